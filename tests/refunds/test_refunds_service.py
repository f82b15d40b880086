"""Refund records against the store emulator behind the live server, each task run by the test:
our refundCreate issued exactly once, the store's refunds/create matched to it (never counted
twice, in any order, delivered twice), refunds made in the store admin recorded with their reason,
the order's payment state, pending and failed transactions, and refunds of orders not yet known."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from app.outbox.models import OutboxMessage
from app.refunds import issuing, service
from app.refunds.models import Refund
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery
from app.webhooks.tasks import _Later, _process
from tests.factories import signed_headers
from tests.refunds.helpers import behave, control, deliveries, hold, process, store_order, store_refunds
from tests.suppliers.e2e import store_shop


def _kinds(order_id: int) -> list[str]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(EvidenceEvent.kind).where(
            EvidenceEvent.order_id == order_id, EvidenceEvent.kind.like("refund.%")).order_by(EvidenceEvent.seq)))


def _refunds(order_id: int) -> list[Refund]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)))


def _financial(order_id: int) -> str:
    with get_sessionmaker()() as session:
        return session.get(Order, order_id).financial_status


def _request(db, shop, order, amount: str, *, key: str | None = None, issued_by: str = "dispute") -> Refund:
    refund = service.request_refund(db, shop, order, amount=Decimal(amount), reason="not_received",
                                    issued_by=issued_by, key=key or f"dg-t-{uuid.uuid4().hex[:10]}",
                                    note="Dropguard test")
    hold(db)
    db.commit()
    return refund


class LoseAnswer(httpx.BaseTransport):
    """Forwards to the live server; the answer to refundCreate is lost after the store made it."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.real.handle_request(request)
        if b"refundCreate" in request.content:
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture
def shop(db, live_server) -> Shop:
    return store_shop(db)


def test_our_refund_is_issued_once_and_the_stores_webhook_joins_it(db, shop):
    order, store = store_order(db, shop)
    refund = _request(db, shop, order, "15.00")
    assert (refund.status, refund.note.endswith(f"[dropguard:{refund.idempotency_key}]")) == ("requested", True)
    queued = db.scalars(select(OutboxMessage.args).where(OutboxMessage.task_name == "refunds.issue")).all()
    assert [refund.id] in queued
    # The same key again is the same refund, not a second one.
    assert _request(db, shop, order, "15.00", key=refund.idempotency_key).id == refund.id

    assert issuing.issue(refund.id) == "confirmed"
    assert issuing.issue(refund.id) == "confirmed"
    (at_store,) = store_refunds(store["id"])
    (row,) = _refunds(order.id)
    assert (row.external_id, row.amount, row.attempts) == (str(at_store["id"]), Decimal("15.00"), 1)
    assert at_store["transactions"][0]["parent_id"] is not None  # money back to the customer's payment

    # The store's refunds/create and orders/updated after it: the same refund, the payment state.
    (refund_delivery,) = deliveries(shop, "refunds/create")
    assert process(refund_delivery) == "processed"
    for update_id in deliveries(shop, "orders/updated"):
        process(update_id)
    (row,) = _refunds(order.id)
    assert row.status == "confirmed" and row.lines == []
    assert _kinds(order.id) == ["refund.requested", "refund.issue_attempt", "refund.issued", "refund.confirmed"]
    assert _financial(order.id) == "partially_refunded"
    assert service.refunded_amount(db, shop.id, order.id) == Decimal("15.00")
    assert service.totals(db, shop.id, [order.id])[order.id] == service.RefundTotals(Decimal("15.00"), Decimal(0), 1)
    with get_sessionmaker()() as session:
        (confirmed,) = session.scalars(select(EvidenceEvent).where(
            EvidenceEvent.order_id == order.id, EvidenceEvent.kind == "refund.confirmed")).all()
    assert confirmed.data["issued_by"] == "dispute" and "note" not in confirmed.data
    assert confirmed.personal == {"note": row.note}  # the merchant-visible text is redactable

    # More than what is left: refused before anything reaches the store.
    with pytest.raises(service.RefundError, match="exceeds_refundable"):
        service.request_refund(db, shop, order, amount=Decimal("30.00"), reason="other", issued_by="alert",
                               key=f"dg-t-{uuid.uuid4().hex[:8]}")
    db.rollback()


def test_store_webhook_before_our_answer_is_recorded_converges(db, shop):
    order, store = store_order(db, shop)
    refund = _request(db, shop, order, "40.00")
    # The store makes the refund but our worker never hears back.
    with pytest.raises(issuing.RetryLater):
        issuing.issue(refund.id, transport=LoseAnswer())
    assert _refunds(order.id)[0].status == "requested"
    # Its webhook arrives first: matched by the key our note carries, not recorded as the merchant's.
    (delivery_id,) = deliveries(shop, "refunds/create")
    process(delivery_id)
    (row,) = _refunds(order.id)
    assert (row.status, row.issued_by, row.external_id) == ("confirmed", "dispute", str(store_refunds(store["id"])[0]["id"]))
    # The retry asks nothing more of the store.
    assert issuing.issue(refund.id) == "confirmed"
    # The same webhook delivered again under another event id (a second subscription): no change.
    with get_sessionmaker()() as session:
        payload = session.get(WebhookDelivery, delivery_id).payload
    body = json.dumps(payload).encode()
    headers = signed_headers(body, shop_domain=shop.domain, topic="refunds/create", event_id=str(uuid.uuid4()))
    assert httpx.post(f"{control().split('/sandbox')[0]}/webhooks/shopify", content=body, headers=headers,
                      timeout=10).status_code == 200
    process(deliveries(shop, "refunds/create", count=2)[1])
    assert len(store_refunds(store["id"])) == 1 and len(_refunds(order.id)) == 1
    assert _kinds(order.id).count("refund.confirmed") == 1
    assert _kinds(order.id).count("refund.issue_attempt") == 1
    for update_id in deliveries(shop, "orders/updated"):
        process(update_id)
    assert _financial(order.id) == "refunded"


def test_refund_in_the_store_admin_is_recorded_with_its_reason(db, shop):
    order, store = store_order(db, shop)
    line = store["line_items"][0]
    made = httpx.post(f"{control()}/orders/{store['id']}/refunds",
                      json={"amount": "20.00", "note": "Arrived broken", "line_items": [{"line_item_id": line["id"]}]},
                      timeout=10)
    assert made.status_code == 201
    (delivery_id,) = deliveries(shop, "refunds/create")
    process(delivery_id)
    process(delivery_id)  # the task runs twice
    (row,) = _refunds(order.id)
    assert (row.issued_by, row.status, row.reason, row.amount) == ("store", "confirmed", "damaged", Decimal("20.00"))
    assert row.lines == [{"line_id": str(line["id"]), "quantity": 1, "amount": "20.00"}]
    assert _kinds(order.id) == ["refund.recorded"]
    assert _financial(order.id) == "partially_refunded"  # from the refund, before orders/updated arrives


def test_pending_then_settled_and_failed_refunds(db, shop):
    behave(shop, transaction_status="pending")
    order, store = store_order(db, shop)
    pending = _request(db, shop, order, "10.00", issued_by="resolution")
    assert issuing.issue(pending.id) == "issued"
    assert _financial(order.id) == "paid"  # nothing went back yet: nothing is promised
    assert issuing.reconcile(pending.id) == "issued"
    refund_id = store_refunds(store["id"])[0]["id"]
    assert httpx.post(f"{control()}/orders/{store['id']}/refunds/{refund_id}/settle", json={"status": "success"},
                      timeout=10).status_code == 200
    assert issuing.reconcile(pending.id) == "confirmed"
    assert _financial(order.id) == "partially_refunded"

    behave(shop, transaction_status="failure")
    failing = _request(db, shop, order, "5.00", issued_by="resolution")
    assert issuing.issue(failing.id) == "failed"
    rows = {r.id: r for r in _refunds(order.id)}
    assert rows[failing.id].last_error == "the store's refund transaction failed"
    assert service.totals(db, shop.id, [order.id])[order.id].refunded == Decimal("10.00")


def test_refund_the_store_cannot_make_fails_with_its_reason(db, shop):
    order, store = store_order(db, shop)
    # The merchant refunded everything in the admin; we have not heard yet.
    assert httpx.post(f"{control()}/orders/{store['id']}/refunds", json={"amount": store["total_price"]},
                      timeout=10).status_code == 201
    refund = _request(db, shop, order, "5.00", issued_by="resolution")
    assert issuing.issue(refund.id) == "failed"
    (row,) = _refunds(order.id)
    assert row.last_error == "the order's payments at the store hold less than the refund"
    assert _kinds(order.id)[-1] == "refund.failed"
    assert len(store_refunds(store["id"])) == 1  # nothing more at the store


def test_refund_of_an_order_not_received_waits_then_fails_with_its_reason(db, shop):
    payload = {"id": 91, "order_id": 424242, "created_at": "2026-12-01T10:00:00Z", "note": None,
               "refund_line_items": [], "transactions": [{"kind": "refund", "status": "success", "amount": "3.00"}]}
    body = json.dumps(payload).encode()
    headers = signed_headers(body, shop_domain=shop.domain, topic="refunds/create", event_id=str(uuid.uuid4()))
    live = control().split("/sandbox")[0]
    assert httpx.post(f"{live}/webhooks/shopify", content=body, headers=headers, timeout=10).json()["status"] == "queued"
    (delivery_id,) = deliveries(shop, "refunds/create")
    with pytest.raises(_Later):
        _process(delivery_id, may_wait=True)
    with get_sessionmaker()() as session:
        assert session.get(WebhookDelivery, delivery_id).status == "queued"
    assert _process(delivery_id, may_wait=False) == "failed"
    with get_sessionmaker()() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        count = session.scalar(select(func.count()).select_from(Refund).where(Refund.shop_id == shop.id))
    assert "has not received" in delivery.error and count == 0
