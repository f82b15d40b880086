"""Exactly once, fallback and polling against the sandbox AliExpress and CJ emulators.

The emulators run in the live server and keep their own order books: their order count per
reference is the judge. Placing runs in-process (service.place, as the task would) so each step
can be checked; the worker-side retry/lock machinery is the same code the generic e2e tests drive.
"""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.fulfilments.models import Shipment
from app.suppliers import polling, reconcile, service
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.models import SupplierOrder
from app.suppliers.protocols.cj_webhooks import webhook_signature
from app.suppliers.tables import OrderFlag, SupplierOrderLine
from app.suppliers.tasks import process_callback
from app.webhooks.models import WebhookDelivery
from tests.suppliers.helpers import events as events_of
from tests.suppliers.helpers import hold_outbox, kinds, paid_order, supplier_orders
from tests.suppliers.protocol_helpers import (
    ae_orders,
    ae_supplier,
    calm,
    cj_orders,
    cj_supplier,
    control,
    map_sku,
    no_default_supplier,
)

pytestmark = pytest.mark.e2e
AE_PRODUCT, AE_ATTR = "1005001000000001", "14:193#Black"
AE_SOLD_OUT = "1005001000000003"
CJ_VID, CJ_SOLD_OUT = "CJ-SANDBOX-VID-0001", "CJ-SANDBOX-VID-0003"


@pytest.fixture
def emulators(live_server):
    calm("aliexpress")
    calm("cj")
    yield live_server
    calm("aliexpress")
    calm("cj")


def _plan(db, shop, **kwargs):
    order = paid_order(db, shop, **kwargs)
    service.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    return order, supplier_orders(order.id)


def _flags(order_id: int) -> dict[str, OrderFlag]:
    with get_sessionmaker()() as session:
        rows = session.scalars(select(OrderFlag).where(OrderFlag.order_id == order_id, OrderFlag.resolved_at.is_(None)))
        return {flag.kind: flag for flag in rows}


def _so(so_id: int) -> SupplierOrder:
    with get_sessionmaker()() as session:
        return session.get(SupplierOrder, so_id)


# ---- AliExpress ----------------------------------------------------------------------------------


def test_aliexpress_places_once_then_polls_to_confirmed_and_shipped(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", AE_PRODUCT, variant=AE_ATTR)
    order, (so,) = _plan(db, shop)
    assert service.place(so.id) == "placed"
    (ae,) = ae_orders(so.idempotency_key)
    assert ae["order_status"] == "RISK_CONTROL"  # try_to_pay: paid in the create
    placed = _so(so.id)
    assert placed.external_id == ae["order_id"] and placed.poll_after is not None
    assert polling.poll(so.id) == "placed"  # still in the payment risk check
    control("aliexpress", f"/orders/{ae['order_id']}/advance", {"to": "WAIT_SELLER_SEND_GOODS"})
    assert polling.poll(so.id) == "confirmed"
    control("aliexpress", f"/orders/{ae['order_id']}/advance", {"to": "WAIT_BUYER_ACCEPT_GOODS"})
    assert polling.poll(so.id) == "shipped"
    assert _so(so.id).poll_after is None  # no more polls once shipped
    with get_sessionmaker()() as session:
        (shipment,) = session.scalars(select(Shipment).where(Shipment.supplier_order_id == so.id))
        assert shipment.tracking_number.startswith("LP")
    assert len(ae_orders(so.idempotency_key)) == 1


def test_aliexpress_lost_answer_is_reconciled_never_resent(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    supplier = ae_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", AE_PRODUCT, variant=AE_ATTR)
    order, (so,) = _plan(db, shop)
    control("aliexpress", "/behaviour", {"lose_response_next": 1, "app_key": supplier.settings["app_key"]})
    assert service.place(so.id) == "reconciling"  # created, answer lost, and AE cannot be asked
    assert len(ae_orders(so.idempotency_key)) == 1
    assert service.place(so.id) == "reconciling"  # a retry (or duplicate task) sends nothing
    assert len(ae_orders(so.idempotency_key)) == 1
    assert "reconcile" in _flags(order.id)
    with pytest.raises(reconcile.ReconcileError):
        reconcile.adopt(so.id, ["8100000099999999"])  # not at AliExpress: refused
    (ae,) = ae_orders(so.idempotency_key)
    assert reconcile.adopt(so.id, [ae["order_id"]]) == "placed"
    assert _so(so.id).external_id == ae["order_id"]
    assert "reconcile" not in _flags(order.id)
    assert len(ae_orders(so.idempotency_key)) == 1
    assert kinds(shop.domain, "supplier_order.re") == ["supplier_order.reconcile_needed", "supplier_order.reconciled"]


def test_aliexpress_worker_killed_mid_call_is_not_resent(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", AE_PRODUCT, variant=AE_ATTR)
    order, (so,) = _plan(db, shop)
    # What a SIGKILL after the request leaves: the attempt committed, no outcome recorded.
    attempt = service._begin_attempt(db, so.id)
    db.commit()
    service._call(attempt, None)
    assert len(ae_orders(so.idempotency_key)) == 1
    assert service.place(so.id) == "reconciling"
    assert len(ae_orders(so.idempotency_key)) == 1


class _RefuseFirstCall(httpx.BaseTransport):
    """The gateway answers 503 to the first call, before any work; later calls reach the emulator.

    In-process rather than an emulator knob, so that nothing else using the shared emulator
    during a full run can spend the refusal meant for this test.
    """

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.refused:
            self.refused += 1
            return httpx.Response(503, text="upstream unavailable", request=request)
        return self.inner.handle_request(request)


def test_aliexpress_refused_at_the_door_then_success_places_once(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", AE_PRODUCT, variant=AE_ATTR)
    order, (so,) = _plan(db, shop)
    transport = _RefuseFirstCall()
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id, transport=transport)
    assert transport.refused == 1
    assert ae_orders(so.idempotency_key) == []
    assert service.place(so.id, transport=transport) == "placed"
    assert len(ae_orders(so.idempotency_key)) == 1


def test_aliexpress_expired_token_is_renewed_once_and_the_order_placed_once(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", AE_PRODUCT, variant=AE_ATTR)
    order, (so,) = _plan(db, shop)
    control("aliexpress", "/behaviour", {"expire_tokens": True})
    assert service.place(so.id) == "placed"
    assert len(ae_orders(so.idempotency_key)) == 1
    (placed,) = events_of(shop.domain, "supplier_order.placed")
    paths = [call["path"] for call in placed.data["calls"]]
    assert paths == ["/sandbox/aliexpress/sync?method=aliexpress.ds.order.create",
                     "/sandbox/aliexpress/rest/auth/token/refresh",
                     "/sandbox/aliexpress/sync?method=aliexpress.ds.order.create"]
    assert polling.poll(so.id) == "placed"  # the renewed token, shared through the store, still works


def test_aliexpress_resend_after_merchant_checked(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", AE_PRODUCT, variant=AE_ATTR)
    order, (so,) = _plan(db, shop)
    control("aliexpress", "/behaviour", {"latency_ms": 0})
    with get_sessionmaker()() as session:
        row = session.get(SupplierOrder, so.id)
        row.status, row.attempts, row.last_error = "reconciling", 1, "the supplier's answer was lost"
        session.commit()
    reconcile.resend(db, so.id, shop.id)
    hold_outbox(db)
    db.commit()
    assert service.place(so.id) == "placed"
    assert len(ae_orders(so.idempotency_key)) == 1


# ---- CJ ------------------------------------------------------------------------------------------


def test_cj_lost_answer_is_found_by_order_number_not_placed_twice(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    supplier, _ = cj_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", CJ_VID)
    order, (so,) = _plan(db, shop)
    control("cj", "/behaviour", {"lose_response_next": 1})
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id)
    assert len(cj_orders(so.idempotency_key)) == 1
    assert service.place(so.id) == "confirmed"  # found, paid from balance in the create
    assert len(cj_orders(so.idempotency_key)) == 1
    assert "supplier_order.found_existing" in kinds(shop.domain, "supplier_order.")


def test_cj_timeout_then_success_places_once(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    supplier, _ = cj_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", CJ_VID)
    order, (so,) = _plan(db, shop)
    control("cj", "/behaviour", {"fail_next": 1})
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id)
    assert service.place(so.id) == "confirmed"
    assert len(cj_orders(so.idempotency_key)) == 1


def test_duplicate_paid_signals_plan_and_place_once(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    supplier, _ = cj_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", CJ_VID)
    order = paid_order(db, shop)
    for _ in range(3):
        service.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    (so,) = supplier_orders(order.id)
    assert service.place(so.id) == "confirmed"
    assert service.place(so.id) == "confirmed"
    assert len(cj_orders(so.idempotency_key)) == 1


def test_cj_webhooks_ship_the_order_once_and_bad_signatures_store_nothing(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    supplier, account = cj_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", CJ_VID)
    order, (so,) = _plan(db, shop)
    assert service.place(so.id) == "confirmed"
    (cj,) = cj_orders(so.idempotency_key)
    control("cj", f"/orders/{cj['orderId']}/advance", {"to": "SHIPPED"})  # ORDER + LOGISTIC messages

    def deliveries():
        with get_sessionmaker()() as session:
            return list(session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.source == "supplier:cj", WebhookDelivery.shop_id == shop.id)))

    received = deliveries()
    assert sorted(d.topic for d in received) == ["cj.LOGISTIC", "cj.ORDER"]
    for delivery in received:
        process_callback(delivery.id)
    assert _so(so.id).status == "shipped"
    # CJ redelivers: the same messageId is a duplicate and changes nothing.
    body = json.dumps(received[0].payload, separators=(",", ":")).encode()
    url = f"{emulators}/webhooks/suppliers/cj"
    headers = {"sign": webhook_signature(body, account["open_id"]), "Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers=headers).json()["status"] == "duplicate"
    bad = httpx.post(url, content=body, headers={"sign": "bm90IGl0", "Content-Type": "application/json"})
    assert bad.status_code == 401
    assert len(deliveries()) == 2
    with get_sessionmaker()() as session:
        assert len(session.scalars(select(Shipment).where(Shipment.supplier_order_id == so.id)).all()) == 1


# ---- fallback ------------------------------------------------------------------------------------


def test_out_of_stock_falls_back_to_the_next_supplier(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    cj, _ = cj_supplier(db, shop)
    ae = ae_supplier(db, shop)
    map_sku(db, shop, cj, "SKU-0", CJ_SOLD_OUT, priority=1)
    map_sku(db, shop, ae, "SKU-0", AE_PRODUCT, variant=AE_ATTR, priority=2)
    order, (first,) = _plan(db, shop)
    assert first.supplier_id == cj.id
    assert service.place(first.id) == "failed"
    rows = supplier_orders(order.id)
    (second,) = [row for row in rows if row.id != first.id]
    assert (second.supplier_id, second.replaces_id, second.status) == (ae.id, first.id, "pending")
    assert service.place(second.id) == "placed"
    assert cj_orders(first.idempotency_key) == [] and len(ae_orders(second.idempotency_key)) == 1
    assert "supplier_order.fallback" in kinds(shop.domain, "supplier_order.")
    assert _flags(order.id) == {}


def test_no_supplier_left_alerts_and_waits_for_the_customer(db, make_shop, emulators):
    shop = make_shop()
    no_default_supplier(db, shop)
    cj, _ = cj_supplier(db, shop)
    ae = ae_supplier(db, shop)
    map_sku(db, shop, cj, "SKU-0", CJ_SOLD_OUT, priority=1)
    map_sku(db, shop, ae, "SKU-0", AE_SOLD_OUT, priority=2)
    order, (first,) = _plan(db, shop)
    assert service.place(first.id) == "failed"
    (second,) = [row for row in supplier_orders(order.id) if row.id != first.id]
    assert service.place(second.id) == "failed"
    assert len(supplier_orders(order.id)) == 2  # nothing more to try
    assert "awaiting_customer_choice" in _flags(order.id)
    assert kinds(shop.domain, "supplier_order.no_supplier_left") == ["supplier_order.no_supplier_left"]
    with get_sessionmaker()() as session:
        lines = session.scalars(select(SupplierOrderLine).where(SupplierOrderLine.supplier_order_id == second.id))
        assert [line.supplier_sku for line in lines] == [AE_SOLD_OUT]
