"""The whole first order flow through the sandboxes and real processes, ending in one store fulfilment.

Sandbox store order (paid) -> signed webhooks -> our order -> supplier order placed at the sandbox
supplier -> its confirmed and shipped callbacks -> a shipment -> fulfillmentCreate in the sandbox
store, exactly once even when the push runs again.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.fulfilments import service
from app.fulfilments.models import Shipment
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.suppliers.models import SupplierOrder
from app.suppliers.service import default_supplier, reference_for
from tests.fixtures import wait_for
from tests.suppliers.e2e import behave, reset_supplier, store_shop
from tests.suppliers.helpers import events, kinds

pytestmark = pytest.mark.e2e

STORE_ORDER = {
    "line_items": [{"title": "Posture corrector", "sku": "PC-1", "quantity": 2, "price": "24.90"}],
    "customer": {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
    "shipping_address": {
        "first_name": "Grace",
        "last_name": "Hopper",
        "address1": "1 Navy Yard",
        "city": "Arlington",
        "province_code": "VA",
        "zip": "22202",
        "country_code": "US",
    },
    "currency": "USD",
}


@pytest.fixture
def sandbox(live_server, celery_worker):
    reset_supplier()
    behave(confirm_after_s=0.2, ship_after_s=0.2)
    yield live_server
    reset_supplier()


def _store_fulfillments(live: str, domain: str) -> list[dict]:
    response = httpx.get(f"{live}/sandbox/shopify/_control/fulfillments", params={"shop": domain}, timeout=10)
    response.raise_for_status()
    return response.json()["fulfillments"]


def _pushed_shipment(shop_id: int) -> Shipment | None:
    with get_sessionmaker()() as session:
        shipment = session.scalar(select(Shipment).where(Shipment.shop_id == shop_id))
    return shipment if shipment is not None and shipment.store_status != "pending" else None


def test_paid_store_order_ends_in_one_fulfilment_even_when_pushed_twice(db, sandbox):
    shop = store_shop(db)
    created = httpx.post(
        f"{sandbox}/sandbox/shopify/_control/orders",
        json={"shop": shop.domain, "order": STORE_ORDER, "paid": True},
        timeout=30,
    )
    assert created.status_code == 201, created.text

    shipment = wait_for(
        lambda: _pushed_shipment(shop.id), timeout=60, message="the shipment pushed to the store"
    )
    assert shipment.store_status == "pushed", shipment.last_error
    # The push runs again, as a redelivered task and in-process: nothing new reaches the store.
    enqueue(db, "fulfilments.push_to_store", shipment.id)
    db.commit()
    assert service.push_to_store(shipment.id) == "pushed"
    time.sleep(2)

    (fulfillment,) = _store_fulfillments(sandbox, shop.domain)
    assert fulfillment["admin_graphql_api_id"] == shipment.store_fulfillment_id
    assert (fulfillment["tracking_number"], fulfillment["tracking_company"], fulfillment["tracking_url"]) == (
        shipment.tracking_number,
        shipment.carrier,
        shipment.tracking_url,
    )
    assert fulfillment["notify_customer"] is False  # the customer hears from our shipped email
    with get_sessionmaker()() as session:
        order = session.get(Order, shipment.order_id)
        so = session.get(SupplierOrder, shipment.supplier_order_id)
        refreshed = session.get(Shipment, shipment.id)
    assert order.status == "shipped" and so.status == "shipped" and refreshed.store_attempts == 1
    ledger = kinds(shop.domain)
    for kind in (
        "supplier_order.planned",
        "supplier_order.placed",
        "supplier.callback_received",
        "supplier_order.confirmed",
        "supplier_order.shipped",
        "shipment.created",
        "fulfilment.attempt",
        "fulfilment.pushed",
    ):
        assert kind in ledger, kind
    assert ledger.count("fulfilment.attempt") == 1
    (created_event,) = events(shop.domain, "shipment.created")
    assert created_event.data["tracking_number"] == shipment.tracking_number
    assert created_event.data["carrier"] and created_event.data["tracking_url"]


def test_two_pushes_at_once_make_one_fulfilment(db, sandbox):
    shop = store_shop(db)
    created = httpx.post(
        f"{sandbox}/sandbox/shopify/_control/orders",
        json={"shop": shop.domain, "order": STORE_ORDER, "paid": False},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    external_id = created.json()["order"]["id"]

    def our_order():
        with get_sessionmaker()() as session:
            return session.scalar(
                select(Order).where(Order.shop_id == shop.id, Order.external_id == external_id)
            )

    order = wait_for(our_order, timeout=30, message="the store's order to reach us")
    supplier = default_supplier(db, shop.id)
    so = SupplierOrder(
        shop_id=shop.id,
        order_id=order.id,
        supplier_id=supplier.id,
        status="shipped",
        idempotency_key=reference_for(shop.id, order.id, supplier.id),
        external_id="SUP-test",
    )
    db.add(so)
    db.flush()
    shipment = service.create_shipment(
        db,
        shop=db.get(Shop, shop.id),
        order=db.get(Order, order.id),
        supplier_order_id=so.id,
        tracking_number="LX123456785CN",
        carrier="China Post",
        tracking_url=None,
        shipped_at=utcnow(),
    )
    enqueue(db, "fulfilments.push_to_store", shipment.id)
    enqueue(db, "fulfilments.push_to_store", shipment.id)
    db.commit()

    pushed = wait_for(lambda: _pushed_shipment(shop.id), timeout=30, message="the shipment pushed")
    time.sleep(3)  # the second task waits for the lock, then finds the push done
    assert pushed.store_status == "pushed", pushed.last_error
    (fulfillment,) = _store_fulfillments(sandbox, shop.domain)
    assert fulfillment["tracking_number"] == "LX123456785CN"
    with get_sessionmaker()() as session:
        assert session.get(Shipment, shipment.id).store_attempts == 1
