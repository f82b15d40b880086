"""Pushing shipments to the store once, against an in-test fake of the Admin GraphQL API.

The end-to-end proof against the sandbox store and real workers is in test_fulfilment_e2e.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from app.db import get_sessionmaker, utcnow
from app.fulfilments import service
from app.fulfilments.client import StoreTemporaryError
from app.fulfilments.models import Shipment
from app.orders.models import Order
from app.shops.models import Shop
from app.suppliers import service as suppliers
from tests.suppliers.helpers import FakeSupplier, events, kinds, planned

TRACKING = "1Z999AA10123456784"


class FakeStore:
    """Protocol B's two operations in memory; `lose_next` applies a mutation and loses the answer."""

    def __init__(self, order_external_id: int) -> None:
        self.order_gid = f"gid://shopify/Order/{order_external_id}"
        self.fulfillment_orders = [
            {
                "id": "gid://shopify/FulfillmentOrder/1",
                "status": "OPEN",
                "lineItems": {
                    "nodes": [
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/1",
                            "remainingQuantity": 1,
                            "totalQuantity": 1,
                        }
                    ]
                },
            }
        ]
        self.fulfillments: list[dict[str, Any]] = []
        self.mutations: list[dict[str, Any]] = []
        self.lose_next = 0
        self.throttle_next = 0
        self._lock = threading.Lock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/admin/api/2026-07/graphql.json")
        assert request.headers["x-shopify-access-token"].startswith("shpat_")
        body = json.loads(request.read())
        with self._lock:
            if self.throttle_next:
                self.throttle_next -= 1
                return httpx.Response(
                    200, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
                )
            if "fulfillmentCreate" not in body["query"]:
                assert body["variables"]["id"] == self.order_gid
                return httpx.Response(
                    200,
                    json={
                        "data": {
                            "order": {
                                "id": self.order_gid,
                                "name": "#1001",
                                "fulfillmentOrders": {"nodes": self.fulfillment_orders},
                                "fulfillments": self.fulfillments,
                            }
                        }
                    },
                )
            return self._create(request, body["variables"]["fulfillment"])

    def _create(self, request: httpx.Request, fulfillment: dict[str, Any]) -> httpx.Response:
        self.mutations.append(fulfillment)
        fo = self.fulfillment_orders[0]
        if fo["status"] != "OPEN":
            payload = {
                "fulfillment": None,
                "userErrors": [
                    {
                        "field": ["fulfillment"],
                        "message": f"Fulfillment order has an unfulfillable status= {fo['status']}.",
                    }
                ],
            }
        else:
            fo["status"] = "CLOSED"
            created = {
                "id": f"gid://shopify/Fulfillment/{len(self.fulfillments) + 1}",
                "status": "SUCCESS",
                "trackingInfo": [fulfillment["trackingInfo"]],
            }
            self.fulfillments.append(created)
            payload = {"fulfillment": created, "userErrors": []}
        if self.lose_next:
            self.lose_next -= 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(200, json={"data": {"fulfillmentCreate": payload}})


def _shipment(db, shop: Shop) -> tuple[Order, Shipment]:
    order, so = planned(db, shop)
    suppliers.place(so.id, transport=FakeSupplier().transport())
    with get_sessionmaker()() as session:
        shipment = service.create_shipment(
            session,
            shop=session.get(Shop, shop.id),
            order=session.get(Order, order.id),
            supplier_order_id=so.id,
            tracking_number=TRACKING,
            carrier="UPS",
            tracking_url=f"https://www.ups.com/track?tracknum={TRACKING}",
            shipped_at=utcnow(),
        )
        session.commit()
    return order, shipment


def _reload(shipment_id: int) -> Shipment:
    with get_sessionmaker()() as session:
        return session.get(Shipment, shipment_id)


def test_push_creates_one_fulfilment_with_tracking(db, shop):
    order, shipment = _shipment(db, shop)
    store = FakeStore(order.external_id)
    assert service.push_to_store(shipment.id, transport=store.transport()) == "pushed"
    assert service.push_to_store(shipment.id, transport=store.transport()) == "pushed"
    (mutation,) = store.mutations
    assert mutation["trackingInfo"] == {
        "company": "UPS",
        "number": TRACKING,
        "url": f"https://www.ups.com/track?tracknum={TRACKING}",
    }
    assert mutation["lineItemsByFulfillmentOrder"] == [
        {"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1"}
    ]
    pushed = _reload(shipment.id)
    assert (pushed.store_status, pushed.store_attempts, pushed.store_fulfillment_id) == (
        "pushed",
        1,
        "gid://shopify/Fulfillment/1",
    )
    assert kinds(shop.domain, "fulfilment.") == ["fulfilment.attempt", "fulfilment.pushed"]
    (event,) = events(shop.domain, "fulfilment.pushed")
    assert event.data["fulfillment_id"] == "gid://shopify/Fulfillment/1"
    assert [call["status"] for call in event.data["calls"]] == [200, 200]


def test_lost_answer_is_adopted_by_tracking_number(db, shop):
    order, shipment = _shipment(db, shop)
    store = FakeStore(order.external_id)
    store.lose_next = 1
    with pytest.raises(StoreTemporaryError):
        service.push_to_store(shipment.id, transport=store.transport())
    assert service.push_to_store(shipment.id, transport=store.transport()) == "pushed"
    assert len(store.fulfillments) == 1 and len(store.mutations) == 1
    pushed = _reload(shipment.id)
    assert (pushed.store_attempts, pushed.store_fulfillment_id) == (2, "gid://shopify/Fulfillment/1")
    assert kinds(shop.domain, "fulfilment.") == [
        "fulfilment.attempt",
        "fulfilment.call_failed",
        "fulfilment.attempt",
        "fulfilment.found_existing",
        "fulfilment.pushed",
    ]


def test_throttled_is_retried(db, shop):
    order, shipment = _shipment(db, shop)
    store = FakeStore(order.external_id)
    store.throttle_next = 1
    with pytest.raises(StoreTemporaryError, match="throttled"):
        service.push_to_store(shipment.id, transport=store.transport())
    assert _reload(shipment.id).store_status == "pending"
    assert service.push_to_store(shipment.id, transport=store.transport()) == "pushed"


def test_closed_fulfilment_order_fails_with_the_store_message(db, shop):
    order, shipment = _shipment(db, shop)
    store = FakeStore(order.external_id)
    store.fulfillment_orders[0]["status"] = "CLOSED"
    assert service.push_to_store(shipment.id, transport=store.transport()) == "failed"
    assert store.mutations == []  # nothing open to fulfil: refused before asking
    failed = _reload(shipment.id)
    assert failed.store_status == "failed" and "no open fulfillment order" in failed.last_error


def test_user_errors_fail_with_the_message(db, shop):
    order, shipment = _shipment(db, shop)
    store = FakeStore(order.external_id)
    original = store._create

    def closed_meanwhile(request, fulfillment):
        store.fulfillment_orders[0]["status"] = "CLOSED"
        return original(request, fulfillment)

    store._create = closed_meanwhile
    assert service.push_to_store(shipment.id, transport=store.transport()) == "failed"
    assert "unfulfillable status" in _reload(shipment.id).last_error
    (event,) = events(shop.domain, "fulfilment.failed")
    assert "unfulfillable" in event.data["reason"]


def test_duplicate_shipment_is_not_created(db, shop):
    order, shipment = _shipment(db, shop)
    with get_sessionmaker()() as session:
        again = service.create_shipment(
            session,
            shop=session.get(Shop, shop.id),
            order=session.get(Order, order.id),
            supplier_order_id=shipment.supplier_order_id,
            tracking_number=TRACKING,
            carrier="UPS",
            tracking_url=None,
            shipped_at=utcnow(),
        )
        assert again is None
