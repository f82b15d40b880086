"""Carrier webhooks in: signatures, the inbox, unknown numbers, and the same scan twice.

Recorded through the real routes (TestClient), applied in-process by the task's function. A live
worker of the same run may apply a delivery first: either way it is applied once, under its row lock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, select, text

from app.config import get_settings
from app.db import get_sessionmaker, utcnow
from app.tracking.aggregators import aftership, seventeentrack
from app.tracking.tasks import process_delivery
from app.webhooks.models import WebhookDelivery
from tests.suppliers.helpers import events, kinds
from tests.tracking.helpers import (
    aftership_webhook,
    fresh_number,
    journey,
    notifications_of,
    reload,
    seventeentrack_webhook,
    shipment_for,
)

URLS = {"17track": "/webhooks/carriers/17track", "aftership": "/webhooks/carriers/aftership"}
BUILDERS = {"17track": seventeentrack_webhook, "aftership": aftership_webhook}


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


def _deliveries(provider: str, number: str) -> list[WebhookDelivery]:
    with get_sessionmaker()() as session:
        return list(session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.source == provider,
                                          WebhookDelivery.payload.cast(String).contains(number))
        ))


def _apply(client, provider: str, body: bytes, headers: dict) -> str:
    response = client.post(URLS[provider], content=body, headers=headers)
    assert response.status_code == 200, response.text
    delivery_id = response.json()["delivery_id"]
    assert delivery_id is not None, response.json()
    process_delivery.run(delivery_id)
    with get_sessionmaker()() as session:
        return session.get(WebhookDelivery, delivery_id).status


@pytest.mark.parametrize("provider", ["17track", "aftership"])
def test_bad_signature_is_refused_and_nothing_is_stored(client, provider):
    number = fresh_number()
    body, headers = BUILDERS[provider](number, journey(utcnow(), ["info_received"]))
    wrong = dict(headers)
    signature_header = next(name for name in headers if name != "Content-Type")
    wrong[signature_header] = "0" * 64
    assert client.post(URLS[provider], content=body, headers=wrong).status_code == 401
    del wrong[signature_header]
    assert client.post(URLS[provider], content=body, headers=wrong).status_code == 401
    # Signed with another key: refused too.
    body, other = BUILDERS[provider](number, journey(utcnow(), ["info_received"]), **(
        {"key": "not-the-key"} if provider == "17track" else {"secret": "not-the-secret"}))
    response = client.post(URLS[provider], content=body, headers=other)
    assert response.status_code == 401 and response.json()["error"] == "bad_signature"
    assert _deliveries(provider, number) == []


@pytest.mark.parametrize("provider", ["17track", "aftership"])
def test_malformed_bodies_are_refused_with_a_reason(client, provider):
    settings = get_settings()
    for body in (b"not json", b"[]", b'{"event": "something_else"}'):
        signer = BUILDERS[provider]
        _, headers = signer(fresh_number(), [])
        signature_header = next(name for name in headers if name != "Content-Type")
        headers[signature_header] = (seventeentrack.sign(body, settings.seventeentrack_webhook_key)
                                     if provider == "17track" else aftership.sign(body, settings.aftership_webhook_secret))
        response = client.post(URLS[provider], content=body, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["error"] in ("bad_json", "bad_payload")


def test_unknown_number_is_recorded_not_applied(client):
    number = fresh_number()
    body, headers = seventeentrack_webhook(number, journey(utcnow(), ["info_received", "picked_up"]))
    response = client.post(URLS["17track"], content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "unknown_number"
    (delivery,) = _deliveries("17track", number)
    assert delivery.status == "unknown_number" and delivery.shop_id is None
    with get_sessionmaker()() as session:
        outbox = session.execute(
            text("SELECT id FROM outbox WHERE task_name = 'tracking.process_delivery' AND (args->>0)::bigint = :i"),
            {"i": delivery.id},
        ).all()
        evidence = session.execute(
            text("SELECT data FROM evidence_events WHERE webhook_delivery_id = :i"), {"i": delivery.id}
        ).scalars().all()
    assert outbox == []  # nothing to apply it to
    (data,) = evidence
    assert data["tracking_number"] == number and data["shipment_id"] is None and data["status"] == "in_transit"
    # Retried by the aggregator: still one row.
    assert client.post(URLS["17track"], content=body, headers=headers).json()["status"] == "duplicate"
    assert process_delivery.run(delivery.id) == "skipped"


def test_the_same_scan_twice_makes_one_status_change_and_one_email(client, db, shop):
    shipped = utcnow() - timedelta(days=6)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    steps = journey(shipped, ["info_received", "picked_up", "departed_origin", "customs", "arrived_destination",
                              "out_for_delivery"])
    body, headers = seventeentrack_webhook(shipment.tracking_number, steps)
    assert _apply(client, "17track", body, headers) == "processed"
    # The aggregator's retry of the same body is a duplicate at the door.
    again = client.post(URLS["17track"], content=body, headers=headers)
    assert again.json()["status"] == "duplicate"
    # The same scan from the other aggregator (new event id, same facts): applied, changes nothing.
    body, headers = aftership_webhook(shipment.tracking_number, steps)
    assert _apply(client, "aftership", body, headers) == "processed"

    after = reload(shipment.id)
    assert after.status == "out_for_delivery"
    assert (after.raw_status, after.raw_sub_status) == ("OutForDelivery", "OutForDelivery_Other")
    assert after.first_scan_at == steps[1][1] and after.last_event_at == steps[-1][1]
    changes = events(shop.domain, "shipment.status_changed")
    assert len(changes) == 1
    assert changes[0].data["raw_sub_status"] == "OutForDelivery_Other" and changes[0].data["from"] == "info_received"
    assert len(events(shop.domain, "tracking.scan")) == len(steps)  # each scan once, locations kept personal
    assert all(e.personal and "location" in e.personal for e in events(shop.domain, "tracking.scan"))
    assert len(notifications_of(order.id, "out_for_delivery")) == 1
    store_events = kinds(shop.domain, "fulfilment.")
    assert store_events == []  # the fulfilment is not in the store yet: events wait (task retries)
    with get_sessionmaker()() as session:
        queued = session.execute(
            text("SELECT status FROM store_fulfilment_events WHERE shipment_id = :s ORDER BY id"),
            {"s": shipment.id},
        ).scalars().all()
    assert queued == ["OUT_FOR_DELIVERY"]


def test_an_older_report_arriving_late_is_recorded_not_applied(client, db, shop):
    shipped = utcnow() - timedelta(days=6)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    steps = journey(shipped, ["info_received", "picked_up", "departed_origin", "customs", "arrived_destination",
                              "out_for_delivery", "delivered"])
    assert _apply(client, "17track", *seventeentrack_webhook(shipment.tracking_number, steps)) == "processed"
    assert _apply(client, "17track", *seventeentrack_webhook(shipment.tracking_number, steps[:5])) == "processed"
    after = reload(shipment.id)
    assert after.status == "delivered" and after.delivered_at == steps[-1][1]
    assert len(events(shop.domain, "shipment.status_changed")) == 1
    assert len(events(shop.domain, "shipment.status_not_applied")) == 1
    (delivered,) = events(shop.domain, "shipment.delivered")
    assert delivered.occurred_at == steps[-1][1]
    assert len(notifications_of(order.id, "delivered")) == 1
    with get_sessionmaker()() as session:
        status = session.execute(text("SELECT status FROM orders WHERE id = :i"), {"i": order.id}).scalar()
    assert status == "delivered"
