"""A parcel's whole journey through real processes and the sandbox aggregators' signed webhooks.

Sandbox store order (paid) -> supplier ships (tracking number) -> shipment -> registered with the
17TRACK emulator by a worker -> each scan advanced on the emulator is a signed webhook to the live
server -> recorded, applied by the worker -> status, store fulfilment events (once), customer
messages (once). The stalled parcel then travels in time through the delay check.
"""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text

from app.db import get_sessionmaker, utcnow
from app.fulfilments import service as fulfilments
from app.fulfilments import updates
from app.fulfilments.client import StoreClient
from app.fulfilments.models import Shipment
from app.orders.models import Order, OrderLine
from app.shops import service as shops
from app.shops.models import Shop
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.service import default_supplier, reference_for
from app.suppliers.tables import SupplierOrderLine
from app.tracking import delays
from app.tracking import service as tracking
from tests.fixtures import wait_for
from tests.suppliers.e2e import behave, reset_supplier, store_shop
from tests.suppliers.helpers import events, hold_outbox
from tests.tracking.helpers import alerts_of, notifications_of, s10

pytestmark = pytest.mark.e2e

STORE_ORDER = {
    "line_items": [{"title": "Neck pillow", "sku": "NP-1", "quantity": 1, "price": "29.90"}],
    "customer": {"email": "katherine@example.com", "first_name": "Katherine", "last_name": "Johnson"},
    "shipping_address": {"first_name": "Katherine", "last_name": "Johnson", "address1": "1 Langley Way",
                         "city": "Hampton", "province_code": "VA", "zip": "23681", "country_code": "US"},
    "currency": "USD",
}


@pytest.fixture
def sandbox(live_server, celery_worker):
    reset_supplier()
    behave(confirm_after_s=0.2, ship_after_s=0.2)
    yield live_server
    reset_supplier()


def _shipment(shop_id: int) -> Shipment | None:
    with get_sessionmaker()() as session:
        shipment = session.scalar(select(Shipment).where(Shipment.shop_id == shop_id))
    ready = shipment is not None and shipment.registered_at is not None and shipment.store_status == "pushed"
    return shipment if ready else None


def _advance(live: str, number: str, at) -> dict:
    response = httpx.post(f"{live}/sandbox/carriers/_control/advance",
                          json={"number": number, "provider": "17track", "at": at.isoformat()}, timeout=30)
    response.raise_for_status()
    return response.json()["results"][0]


def _reload(shipment_id: int) -> Shipment:
    with get_sessionmaker()() as session:
        return session.get(Shipment, shipment_id)


def _store_events(shop: Shop, order_external_id: int) -> list[dict]:
    with get_sessionmaker()() as session:
        token = shops.access_token(session.get(Shop, shop.id))
    with StoreClient(shop_domain=shop.domain, access_token=token) as client:
        order = client.graphql(updates.FULFILMENTS_QUERY, {"id": f"gid://shopify/Order/{order_external_id}"})["order"]
    return [node for f in order["fulfillments"] for node in f["events"]["nodes"]]


def _ordered_and_shipped(db, live: str) -> tuple[Shop, Shipment]:
    shop = store_shop(db)
    created = httpx.post(f"{live}/sandbox/shopify/_control/orders",
                         json={"shop": shop.domain, "order": STORE_ORDER, "paid": True}, timeout=30)
    assert created.status_code == 201, created.text
    shipment = wait_for(lambda: _shipment(shop.id), timeout=60, message="a registered, pushed shipment")
    registered = httpx.get(f"{live}/sandbox/carriers/_control/parcels/{shipment.tracking_number}", timeout=10)
    assert registered.status_code == 200 and registered.json()["17track"]["tag"] == f"shipment-{shipment.id}"
    return shop, shipment


def test_parcel_journey_from_label_to_delivered(db, sandbox):
    shop, shipment = _ordered_and_shipped(db, sandbox)
    assert shipment.flags == [] and shipment.expected_by is not None
    start = shipment.shipped_at.replace(microsecond=0)
    steps = ["info_received", "picked_up", "departed_origin", "customs", "arrived_destination",
             "out_for_delivery", "delivered"]
    for i, step in enumerate(steps):
        result = _advance(sandbox, shipment.tracking_number, start + timedelta(hours=i + 1))
        assert result["sent"] and result["step"] == step and result["delivered"], result
    done = wait_for(lambda: (s := _reload(shipment.id)).status == "delivered" and s, timeout=60,
                    message="the shipment delivered")
    assert done.delivered_at == start + timedelta(hours=len(steps))
    assert (done.raw_status, done.raw_sub_status, done.provider) == ("Delivered", "Delivered_Other", "17track")
    with get_sessionmaker()() as session:
        order = session.get(Order, done.order_id)
    assert order.status == "delivered"
    for stage in ("shipped", "out_for_delivery", "delivered"):
        assert len(notifications_of(order.id, stage)) == 1, stage

    expected = {"IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"}
    pushed = wait_for(lambda: (e := _store_events(shop, order.external_id)) and {n["status"] for n in e} >= expected
                      and e, timeout=60, message="store fulfilment events")
    assert sorted(n["status"] for n in pushed) == sorted(expected)  # each once, in-transit scans add none
    changes = events(shop.domain, "shipment.status_changed")
    assert [c.data["status"] for c in changes] == ["in_transit", "out_for_delivery", "delivered"]

    # The answer of a push is lost (the row still says pending): the retry adopts, the store has one.
    with get_sessionmaker()() as session:
        row_id = session.execute(text("SELECT id FROM store_fulfilment_events WHERE shipment_id = :s AND "
                                      "status = 'DELIVERED'"), {"s": shipment.id}).scalar_one()
        session.execute(text("UPDATE store_fulfilment_events SET state = 'pending' WHERE id = :i"), {"i": row_id})
        session.commit()
    assert updates.push_event(row_id) == "pushed"
    assert len(_store_events(shop, order.external_id)) == len(pushed)
    (adopted,) = [e for e in events(shop.domain, "fulfilment.event_pushed") if e.data["adopted"]]
    assert adopted.data["status"] == "DELIVERED"


def test_stalled_parcel_alerts_the_merchant_and_tells_the_customer_with_time_travel(db, sandbox):
    shop, shipment = _ordered_and_shipped(db, sandbox)
    httpx.post(f"{sandbox}/sandbox/carriers/_control/parcels",
               json={"number": shipment.tracking_number, "scenario": "stall"}, timeout=10).raise_for_status()
    start = shipment.shipped_at.replace(microsecond=0) - timedelta(days=3)
    for i in range(4):
        result = _advance(sandbox, shipment.tracking_number, start + timedelta(hours=i + 1))
        if i == 3:
            assert not result["sent"] and result["reason"] == "stalled"
    last_scan = start + timedelta(hours=3)
    moving = wait_for(lambda: (s := _reload(shipment.id)).last_event_at == last_scan and s, timeout=60,
                      message="the scans applied")
    assert moving.status == "in_transit"

    with get_sessionmaker()() as session:
        assert delays.check(session, shipment.id, now=last_scan + timedelta(days=6)) == []
        raised = delays.check(session, shipment.id, now=last_scan + timedelta(days=8))
        hold_outbox(session)  # the delayed email's send task is not the subject here
        session.commit()
    assert raised == ["no_scan"]
    (alert,) = alerts_of(shipment.id)
    assert alert.condition == "no_scan"
    (message,) = notifications_of(moving.order_id, "delayed")
    assert message.context["reason"] == "stalled" and message.context["estimate_to"]
    # The dashboard lists it for the merchant.
    assert any(e.data["condition"] == "no_scan" for e in events(shop.domain, "shipment.alert"))
    time.sleep(0.5)


def _store_fulfillments(shop: Shop, order_external_id: int) -> list[dict]:
    with get_sessionmaker()() as session:
        token = shops.access_token(session.get(Shop, shop.id))
    with StoreClient(shop_domain=shop.domain, access_token=token) as client:
        order = client.graphql(updates.FULFILMENTS_QUERY, {"id": f"gid://shopify/Order/{order_external_id}"})["order"]
    return order["fulfillments"]


def test_second_parcel_and_new_tracking_reach_the_store_once(db, sandbox):
    shop, shipment = _ordered_and_shipped(db, sandbox)
    with get_sessionmaker()() as session:
        order = session.get(Order, shipment.order_id)
        # The supplier sends a second parcel for the same order (its number is new to us).
        second = fulfilments.create_shipment(
            session, shop=session.get(Shop, shop.id), order=order, supplier_order_id=shipment.supplier_order_id,
            tracking_number=s10("31415926"), carrier="China Post", tracking_url=None, shipped_at=shipment.shipped_at,
        )
        hold_outbox(session)
        session.commit()
    assert fulfilments.push_to_store(second.id) == "pushed"
    (fulfillment,) = _store_fulfillments(shop, order.external_id)
    assert [i["number"] for i in fulfillment["trackingInfo"]] == [shipment.tracking_number, second.tracking_number]
    (attached,) = [e for e in events(shop.domain, "fulfilment.pushed") if e.data["attached"]]
    assert attached.data["shipment_id"] == second.id

    # The supplier replaces the first parcel's number: the store's fulfilment follows, once.
    new_number = s10("27182818")
    with get_sessionmaker()() as session:
        assert tracking.change_tracking(session, session.get(Shipment, shipment.id), tracking_number=new_number,
                                        carrier="China Post", tracking_url=None, source="supplier")
        session.commit()
    wait_for(lambda: _reload(shipment.id).store_tracking_synced, timeout=60, message="the store's tracking updated")
    (fulfillment,) = _store_fulfillments(shop, order.external_id)
    assert fulfillment["trackingInfo"][0]["number"] == new_number
    with get_sessionmaker()() as session:
        session.get(Shipment, shipment.id).store_tracking_synced = False  # as if the answer had been lost
        session.commit()
    assert updates.update_tracking(shipment.id) == "pushed"
    assert [e.data["adopted"] for e in events(shop.domain, "fulfilment.tracking_updated")] == [False, True]
    wait_for(lambda: _reload(shipment.id).registered_at is not None, timeout=30, message="the new number followed")


SPLIT_ORDER = {
    **STORE_ORDER,
    "line_items": [{"title": "Neck pillow", "sku": "NP-1", "quantity": 1, "price": "29.90"},
                   {"title": "Sleep mask", "sku": "SM-2", "quantity": 2, "price": "9.90"}],
}


def test_an_order_split_between_suppliers_gets_one_fulfilment_per_parcel_with_its_own_items(db, sandbox):
    shop = store_shop(db)
    created = httpx.post(f"{sandbox}/sandbox/shopify/_control/orders",
                         json={"shop": shop.domain, "order": SPLIT_ORDER, "paid": False}, timeout=30)
    assert created.status_code == 201, created.text
    external_id = created.json()["order"]["id"]

    def our_order():
        with get_sessionmaker()() as session:
            return session.scalar(select(Order).where(Order.shop_id == shop.id, Order.external_id == external_id))

    order = wait_for(our_order, timeout=30, message="the store's order to reach us")
    lines = list(db.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    first_supplier = default_supplier(db, shop.id)
    second_supplier = Supplier(shop_id=shop.id, name="Second warehouse", protocol="generic", settings={})
    db.add(second_supplier)
    db.flush()
    shipments = []
    for supplier, line, number in ((first_supplier, lines[0], s10("16180339")), (second_supplier, lines[1], s10("14142135"))):
        so = SupplierOrder(shop_id=shop.id, order_id=order.id, supplier_id=supplier.id, status="shipped",
                           idempotency_key=reference_for(shop.id, order.id, supplier.id), external_id=f"SUP-{supplier.id}")
        db.add(so)
        db.flush()
        db.add(SupplierOrderLine(supplier_order_id=so.id, shop_id=shop.id, order_line_id=line.id, title=line.title,
                                 quantity=line.quantity))
        db.flush()
        shipments.append(fulfilments.create_shipment(
            db, shop=db.get(Shop, shop.id), order=db.get(Order, order.id), supplier_order_id=so.id,
            tracking_number=number, carrier="China Post", tracking_url=None, shipped_at=utcnow()))
    hold_outbox(db)
    db.commit()

    for shipment in shipments:
        assert fulfilments.push_to_store(shipment.id) == "pushed"
    response = httpx.get(f"{sandbox}/sandbox/shopify/_control/fulfillments", params={"shop": shop.domain}, timeout=10)
    store = {f["tracking_number"]: f for f in response.json()["fulfillments"]}
    assert set(store) == {s.tracking_number for s in shipments}
    for shipment, line in zip(shipments, lines, strict=True):
        (item,) = store[shipment.tracking_number]["line_items"]
        assert (item["id"], item["quantity"]) == (line.external_id, line.quantity)
