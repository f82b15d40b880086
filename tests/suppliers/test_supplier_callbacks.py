"""POST /webhooks/suppliers/generic and applying what it recorded (the task run in-process)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.fulfilments import service as fulfilments
from app.fulfilments.models import Shipment
from app.notifications.models import Notification
from app.orders.models import Order
from app.shops.models import Shop
from app.suppliers import callbacks, service
from app.suppliers.tasks import process_callback
from app.webhooks.models import WebhookDelivery
from tests.suppliers.helpers import (
    FakeSupplier,
    callback_body,
    events,
    kinds,
    outbox,
    planned,
    signed_callback,
    supplier_orders,
)

URL = "/webhooks/suppliers/generic"


@pytest.fixture
def client(app) -> TestClient:
    # Requests only: the app's lifespan (relay, sandbox mail catcher) plays no part in these tests.
    return TestClient(app)


SHIPPED = {
    "tracking_number": "LX123456785CN",
    "carrier": "China Post",
    "tracking_url": "https://t.17track.net/en#nums=LX123456785CN",
}


def _placed(db, shop):
    order, so = planned(db, shop)
    service.place(so.id, transport=FakeSupplier().transport())
    return order, so


def _deliveries(**where) -> list[WebhookDelivery]:
    with get_sessionmaker()() as session:
        query = select(WebhookDelivery).where(WebhookDelivery.source == "supplier:generic")
        for name, value in where.items():
            query = query.where(getattr(WebhookDelivery, name) == value)
        return list(session.scalars(query))


def _post(client, payload, **kwargs):
    body, headers = signed_callback(payload, **kwargs)
    return client.post(URL, content=body, headers=headers)


def _counter(outcome: str, topic: str = "unknown") -> float:
    labels = {"source": "supplier", "topic": topic, "outcome": outcome}
    return REGISTRY.get_sample_value("dropguard_webhooks_total", labels) or 0.0


def test_bad_signature_is_refused_and_nothing_is_stored(client, db, shop):
    order, so = _placed(db, shop)
    payload = callback_body(so.idempotency_key)
    before = _counter("bad_signature")
    response = _post(client, payload, secret="not-the-secret")
    assert response.status_code == 401 and response.json()["error"] == "bad_signature"
    body, headers = signed_callback(payload)
    headers["X-Timestamp"] = str(int(time.time()) - 1000)  # a replay of an old message
    assert client.post(URL, content=body, headers=headers).status_code == 401
    del headers["X-Signature"]
    assert client.post(URL, content=body, headers=headers).status_code == 401
    assert _counter("bad_signature") == before + 3
    assert _deliveries(event_id=payload["event_id"]) == []
    assert "supplier.callback_received" not in kinds(shop.domain)


def test_malformed_bodies_are_refused_with_a_reason(client, db, shop):
    for body, reason in [
        (b"{not json", "bad_json"),
        (json.dumps([1, 2]).encode(), "bad_payload"),
        (json.dumps({"type": "order.shipped", "order": {"reference": "x"}}).encode(), "bad_payload"),
        (json.dumps({"event_id": "e", "type": "order.shipped", "order": {}}).encode(), "bad_payload"),
        (
            json.dumps(
                {"event_id": "e", "type": "t", "order": {"reference": "r"}, "occurred_at": "soon"}
            ).encode(),
            "bad_payload",
        ),
        (b'{"event_id": "e\\u0000", "type": "t", "order": {"reference": "r"}}', "bad_json"),
    ]:
        response = client.post(URL, content=body, headers=signed_callback(body)[1])
        assert response.status_code == 400, body
        assert response.json()["error"] == reason and response.json()["detail"]


def test_oversized_body_is_refused(client):
    body = b"{" + b" " * (2 * 1024 * 1024 + 10) + b"}"
    response = client.post(URL, content=body, headers=signed_callback(body)[1])
    assert response.status_code == 413


def test_unknown_reference_is_recorded_not_applied(client, shop):
    payload = callback_body("dg-0-0-0")
    payload["order"]["shop"] = shop.domain
    response = _post(client, payload)
    assert response.status_code == 200 and response.json()["status"] == "unknown_order"
    (delivery,) = _deliveries(event_id=payload["event_id"])
    assert (delivery.status, delivery.shop_domain, delivery.shop_id) == ("unknown_order", shop.domain, None)
    assert outbox("suppliers.process_callback", delivery.id) == []
    (event,) = events(shop.domain, "supplier.callback_received")
    assert event.data["delivery_status"] == "unknown_order"
    assert process_callback.run(delivery.id) == "skipped"


def test_known_callback_is_recorded_once_with_its_work(client, db, shop):
    order, so = _placed(db, shop)
    payload = callback_body(so.idempotency_key)
    first = _post(client, payload)
    again = _post(client, payload)
    assert first.status_code == 200 and first.json()["status"] == "queued"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    (delivery,) = _deliveries(event_id=payload["event_id"])
    assert (delivery.shop_domain, delivery.shop_id, delivery.topic) == (
        shop.domain,
        shop.id,
        "order.confirmed",
    )
    assert len(outbox("suppliers.process_callback", delivery.id)) == 1
    assert len(events(shop.domain, "supplier.callback_received")) == 1


def _apply(client, payload) -> str:
    """Record through the route, apply in-process; the delivery's final status.

    A live worker of the same run may apply it first (the route's outbox row is real): either
    way it is applied once, under the delivery's row lock.
    """
    response = _post(client, payload)
    assert response.status_code == 200, response.text
    delivery_id = response.json()["delivery_id"]
    process_callback.run(delivery_id)
    with get_sessionmaker()() as session:
        return session.get(WebhookDelivery, delivery_id).status


def test_confirmed_then_shipped_then_a_late_confirmed(client, db, shop):
    order, so = _placed(db, shop)
    assert _apply(client, callback_body(so.idempotency_key, "order.confirmed")) == "processed"
    assert supplier_orders(order.id)[0].status == "confirmed"
    assert _apply(client, callback_body(so.idempotency_key, "order.shipped", **SHIPPED)) == "processed"
    shipped = supplier_orders(order.id)[0]
    assert shipped.status == "shipped" and shipped.shipped_at is not None
    with get_sessionmaker()() as session:
        assert session.get(Order, order.id).status == "shipped"
        (shipment,) = session.scalars(select(Shipment).where(Shipment.order_id == order.id))
        notifications = list(session.scalars(select(Notification).where(Notification.order_id == order.id)))
    assert (shipment.tracking_number, shipment.carrier) == ("LX123456785CN", "China Post")
    assert [n.stage for n in notifications if n.stage == "shipped"] == ["shipped"]
    assert len(outbox("fulfilments.push_to_store", shipment.id)) == 1
    (created,) = events(shop.domain, "shipment.created")
    assert created.data["tracking_number"] == "LX123456785CN" and created.data["carrier"] == "China Post"
    assert created.data["tracking_url"] == SHIPPED["tracking_url"]
    # Late and repeated news: recorded in the ledger, state unchanged, nothing pushed twice.
    assert _apply(client, callback_body(so.idempotency_key, "order.confirmed")) == "processed"
    assert _apply(client, callback_body(so.idempotency_key, "order.shipped", **SHIPPED)) == "processed"
    assert supplier_orders(order.id)[0].status == "shipped"
    assert len(events(shop.domain, "supplier_order.callback_not_applied")) == 2
    assert len(events(shop.domain, "shipment.created")) == 1
    with get_sessionmaker()() as session:
        assert session.scalar(select(Shipment.id).where(Shipment.order_id == order.id).offset(1)) is None


def test_shipped_without_tracking_number_fails_the_delivery(client, db, shop):
    order, so = _placed(db, shop)
    assert _apply(client, callback_body(so.idempotency_key, "order.shipped")) == "failed"
    assert supplier_orders(order.id)[0].status == "placed"


def test_confirmed_while_the_answer_is_still_missing_adopts_the_order(client, db, shop):
    order, so = planned(db, shop)
    assert _apply(client, callback_body(so.idempotency_key, "order.confirmed", id="SUP-77")) == "processed"
    adopted = supplier_orders(order.id)[0]
    assert (adopted.status, adopted.external_id) == ("confirmed", "SUP-77")
    fake = FakeSupplier()
    assert service.place(so.id, transport=fake.transport()) == "confirmed"
    assert fake.requests == []


def test_supplier_cancel_is_applied_unless_shipped(client, db, shop):
    order, so = _placed(db, shop)
    assert _apply(client, callback_body(so.idempotency_key, "order.cancelled")) == "processed"
    assert supplier_orders(order.id)[0].status == "cancelled"
    (event,) = events(shop.domain, "supplier_order.cancelled")
    assert event.data["by"] == "supplier" and event.source == "supplier"


def _processing(order_id: int) -> list[Notification]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(Notification).where(Notification.order_id == order_id,
                                                               Notification.stage == "processing")))


def test_supplier_confirmation_schedules_the_processing_message_once(client, db, shop):
    order, so = _placed(db, shop)
    assert _apply(client, callback_body(so.idempotency_key, "order.confirmed")) == "processed"
    assert [n.channel for n in _processing(order.id)] == ["email"]
    assert _apply(client, callback_body(so.idempotency_key, "order.confirmed")) == "processed"
    assert len(_processing(order.id)) == 1


def test_polled_confirmation_with_tracking_already_known_sends_no_processing_message(db, shop):
    order, so = _placed(db, shop)
    with get_sessionmaker()() as session:
        fulfilments.create_shipment(session, shop=session.get(Shop, shop.id), order=session.get(Order, order.id),
                                    supplier_order_id=so.id, tracking_number="LX123456785CN", carrier=None,
                                    tracking_url=None, shipped_at=utcnow())
        session.commit()
    with get_sessionmaker()() as session:
        # The path AliExpress polling and CJ messages take (callbacks.apply_change).
        assert callbacks.apply_change(session, so.id, "order.confirmed", {"id": "SUP-5"}, utcnow()) == "processed"
        session.commit()
    assert supplier_orders(order.id)[0].status == "confirmed"
    assert _processing(order.id) == []
