"""History import against the sandbox store: interrupted half-way and resumed, every order
exactly once (rows and "order.imported" events), with refunds, fulfilments and disputes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from app.db import get_sessionmaker, utcnow
from app.disputes.models import Dispute
from app.evidence.models import EvidenceEvent
from app.history.mapping import PAGE_SIZE
from app.history.models import HistoryFulfillment
from app.history.service import import_progress, run_import
from app.orders.models import Order
from app.refunds.models import Refund
from app.shops.admin_client import AdminClient, AdminTemporaryError
from tests.sandbox.receiver import Receiver
from tests.shops.helpers import install_quietly, new_domain, store_url

ORDERS = 2 * PAGE_SIZE + 3


class CutAfter(httpx.BaseTransport):
    """Forwards `allowed` requests to the live server, then the connection drops."""

    def __init__(self, allowed: int) -> None:
        self.allowed, self.real = allowed, httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.allowed <= 0:
            raise httpx.ConnectError("connection lost", request=request)
        self.allowed -= 1
        return self.real.handle_request(request)


@pytest.fixture
def store_with_history(client, live_server):
    receiver = Receiver()  # the store's webhooks go here: the import alone must bring the orders
    domain = new_domain("hist")
    created = httpx.post(f"{store_url()}/_control/shops", json={
        "domain": domain, "access_token": "shpat_seed", "webhook_url": receiver.url + "/hooks"}, timeout=10)
    assert created.status_code == 201, created.text
    ids = []
    for n in range(ORDERS):
        answer = httpx.post(f"{store_url()}/_control/orders", json={"shop": domain, "order": {
            "email": f"buyer{n}@example.com", "customer": {"first_name": "B", "last_name": str(n)},
            "line_items": [{"title": f"Item {n}", "sku": f"S-{n}", "price": "10.00", "quantity": 1}]}}, timeout=20)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["order"]["id"])
    assert httpx.post(f"{store_url()}/_control/orders/{ids[1]}/refunds", json={"amount": "4.00", "note": "Arrived damaged"}, timeout=10).status_code == 201
    assert httpx.post(f"{store_url()}/_control/orders/{ids[-1]}/refunds", json={"amount": "10.00"}, timeout=10).status_code == 201
    assert httpx.post(f"{store_url()}/_control/orders/{ids[PAGE_SIZE + 1]}/disputes", json={}, timeout=10).status_code == 201
    yield install_quietly(domain), ids
    receiver.close()


def _count(model, shop_id: int) -> int:
    with get_sessionmaker()() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.shop_id == shop_id))


def test_interrupted_import_resumes_and_imports_every_order_once(store_with_history):
    shop, ids = store_with_history
    since = utcnow() - timedelta(days=365)
    # ordersCount, the first page, then the connection drops while asking for the second page.
    cut = AdminClient.for_shop(shop, transport=CutAfter(2), retries=0)
    with pytest.raises(AdminTemporaryError):
        run_import(shop.id, since=since, client=cut)
    cut.close()
    with get_sessionmaker()() as session:
        half = import_progress(session, shop.id)
    assert half["status"] == "failed" and half["orders_seen"] == PAGE_SIZE and half["orders_total"] == ORDERS
    assert 0 < half["percent"] < 100
    assert _count(Order, shop.id) == PAGE_SIZE

    pages: list[dict] = []
    assert run_import(shop.id, on_page=pages.append) == "completed"
    assert [p["orders_seen"] for p in pages] == [2 * PAGE_SIZE, ORDERS]
    with get_sessionmaker()() as session:
        external = sorted(session.scalars(select(Order.external_id).where(Order.shop_id == shop.id)))
        imported = list(session.scalars(select(EvidenceEvent.order_id).where(
            EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "order.imported")))
        done = import_progress(session, shop.id)
        paid = session.scalar(select(func.count()).select_from(Order).where(
            Order.shop_id == shop.id, Order.status == "paid"))
    assert external == sorted(ids)
    assert len(imported) == ORDERS and len(set(imported)) == ORDERS
    assert done["status"] == "completed" and done["percent"] == 100
    assert (done["orders_imported"], done["refunds"], done["disputes"]) == (ORDERS, 2, 1)
    assert paid == ORDERS
    assert (_count(Refund, shop.id), _count(Dispute, shop.id), _count(HistoryFulfillment, shop.id)) == (2, 1, 0)
    # Past refunds are refund records like any other: the store's, confirmed, with their reason.
    with get_sessionmaker()() as session:
        rows = session.execute(select(Refund.amount, Refund.status, Refund.issued_by, Refund.reason, Order.external_id,
                                      Order.financial_status)
                               .join(Order, Order.id == Refund.order_id).where(Refund.shop_id == shop.id)
                               .order_by(Refund.amount)).all()
    assert [tuple(r) for r in rows] == [
        (Decimal("4.00"), "confirmed", "store", "damaged", ids[1], "partially_refunded"),
        (Decimal("10.00"), "confirmed", "store", "unknown", ids[-1], "refunded"),
    ]

    # Again from the start (a new run of the same window): nothing new, nothing doubled.
    assert run_import(shop.id, since=since - timedelta(days=1)) == "completed"
    with get_sessionmaker()() as session:
        again = session.scalar(select(func.count()).select_from(EvidenceEvent).where(
            EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "order.imported"))
        rerun = import_progress(session, shop.id)
    assert again == ORDERS and rerun["orders_imported"] == 0 and rerun["orders_seen"] == ORDERS
    assert _count(Order, shop.id) == ORDERS and _count(Refund, shop.id) == 2
    with get_sessionmaker()() as session:
        recorded = session.scalar(select(func.count()).select_from(EvidenceEvent).where(
            EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "refund.recorded"))
    assert recorded == 2
