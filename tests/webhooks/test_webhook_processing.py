"""Applying recorded deliveries: out-of-order convergence, idempotence and races between workers.

Processing is driven by calling the task function in-process on the real database (not eager
Celery), on deliveries recorded exactly as the route records them but never published, so that a
session-wide worker cannot race the test; and once end to end through the real server, relay and
worker processes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, text

from app.db import get_sessionmaker
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.shops.models import Shop
from app.webhooks.tasks import process_delivery
from tests.factories import order_payload
from tests.fixtures import wait_for
from tests.webhooks.helpers import deliveries, evidence, record_held, signed

URL = "/webhooks/shopify"


def _pair(**kwargs):
    """An orders/create snapshot and a newer orders/updated one of the same (unpaid) order."""
    created_at = datetime.now(UTC) - timedelta(minutes=5)
    create = order_payload(financial_status="pending", updated_at=created_at, **kwargs)
    update = dict(create, updated_at=(created_at + timedelta(minutes=2)).isoformat(), total_price="45.00")
    update["line_items"] = [dict(create["line_items"][0], quantity=3)]
    return create, update


def _post(shop, topic, payload) -> int:
    """Recorded as the route records it; published to nobody (see record_held)."""
    return record_held(shop.domain, topic, payload)


def _order(shop_id: int, external_id: int) -> Order | None:
    with get_sessionmaker()() as session:
        order = session.scalar(select(Order).where(Order.shop_id == shop_id, Order.external_id == external_id))
        if order is not None:
            order.lines  # noqa: B018 - load before the session closes
        return order


def _assert_newest_state(shop, create, update) -> Order:
    order = _order(shop.id, create["id"])
    assert order is not None
    assert order.total_price == Decimal("45.00")
    assert order.source_updated_at == datetime.fromisoformat(update["updated_at"])
    assert [line.quantity for line in order.lines] == [3]
    assert order.status == "open"
    return order


def test_newer_update_before_older_create_converges_to_newest(db, shop):
    create, update = _pair()
    update_id = _post(shop, "orders/updated", update)
    create_id = _post(shop, "orders/create", create)

    assert process_delivery.run(update_id) == "processed"
    assert process_delivery.run(create_id) == "processed"

    order = _assert_newest_state(shop, create, update)
    [applied] = evidence(db, shop.domain, "order.snapshot_applied")
    [stale] = evidence(db, shop.domain, "order.snapshot_stale")
    assert (applied.webhook_delivery_id, stale.webhook_delivery_id) == (update_id, create_id)
    assert stale.order_id == applied.order_id == order.id
    assert stale.data["topic"] == "orders/create"
    assert stale.occurred_at < applied.occurred_at
    assert {d.id: d.status for d in deliveries(db, shop.domain)} == {update_id: "processed", create_id: "processed"}


def test_in_order_delivery_applies_both(db, shop):
    create, update = _pair()
    create_id = _post(shop, "orders/create", create)
    update_id = _post(shop, "orders/updated", update)
    assert process_delivery.run(create_id) == "processed"
    assert process_delivery.run(update_id) == "processed"
    _assert_newest_state(shop, create, update)
    assert len(evidence(db, shop.domain, "order.snapshot_applied")) == 2
    assert evidence(db, shop.domain, "order.snapshot_stale") == []


def test_processing_twice_changes_nothing(db, shop):
    create, _ = _pair()
    create_id = _post(shop, "orders/create", create)
    assert process_delivery.run(create_id) == "processed"
    assert process_delivery.run(create_id) == "skipped"
    assert process_delivery.run(10**15) == "skipped"  # a row that does not exist: nothing to do
    assert len(evidence(db, shop.domain, "order.snapshot_applied")) == 1


def test_same_delivery_on_two_workers_at_once_is_applied_once(db, shop):
    create, _ = _pair()
    create_id = _post(shop, "orders/create", create)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run() -> None:
        barrier.wait(timeout=10)
        results.append(process_delivery.run(create_id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["processed", "skipped"]
    assert len(evidence(db, shop.domain, "order.snapshot_applied")) == 1


def test_create_and_update_of_a_new_order_racing_on_two_workers_both_apply(db, shop):
    """Shopify sends orders/create and orders/updated within milliseconds; two workers take them.

    The first worker has inserted the order but not committed when the second looks for it: the
    second must wait and then update the order, not fail on the unique (shop, external id) key.
    """
    create, update = _pair()
    update_id = _post(shop, "orders/updated", update)
    outcome: dict[str, object] = {}

    with get_sessionmaker()() as first:
        first_shop = first.get(Shop, shop.id)
        apply_snapshot(first, first_shop, "orders/create", create)  # flushed, not committed

        def second_worker() -> None:
            try:
                outcome["result"] = process_delivery.run(update_id)
            except Exception as error:  # reported below, with its type
                outcome["error"] = error

        thread = threading.Thread(target=second_worker)
        thread.start()
        time.sleep(0.5)  # the second worker is now waiting on the first one's uncommitted order
        first.commit()
        thread.join(timeout=30)

    assert "error" not in outcome, repr(outcome.get("error"))
    assert outcome["result"] == "processed"
    _assert_newest_state(shop, create, update)


def test_unprocessable_order_payload_fails_once_and_is_not_retried(db, shop):
    payload = order_payload(financial_status="pending")
    del payload["updated_at"]
    delivery_id = _post(shop, "orders/create", payload)
    assert process_delivery.run(delivery_id) == "failed"
    [delivery] = deliveries(db, shop.domain)
    assert delivery.status == "failed"
    assert "updated_at" in delivery.error
    assert delivery.processed_at is not None
    assert process_delivery.run(delivery_id) == "skipped"


@pytest.mark.parametrize(
    "change",
    [
        {"id": "not-a-number"},
        {"line_items": [{"id": "x", "quantity": 1}]},
        {"line_items": [{"id": 1, "quantity": "many"}]},
        {"customer": "a string"},
        {"name": "#" + "9" * 100},
        {"line_items": [{"id": 1, "quantity": 1, "sku": "S" * 300, "title": "t", "price": "1"}]},
        {"customer": {"id": 1, "email": "a@" + "b" * 400 + ".com"}},
    ],
    ids=["id", "line_id", "quantity", "customer", "long_name", "long_sku", "long_email"],
)
def test_malformed_order_content_marks_the_delivery_failed(db, shop, change):
    payload = dict(order_payload(financial_status="pending"), **change)
    delivery_id = _post(shop, "orders/create", payload)
    assert process_delivery.run(delivery_id) == "failed"
    [delivery] = deliveries(db, shop.domain)
    assert (delivery.status, bool(delivery.error)) == ("failed", True)
    assert db.execute(text("SELECT count(*) FROM orders WHERE shop_id = :s"), {"s": shop.id}).scalar_one() == 0


def test_app_uninstalled_stops_processing_for_the_shop(client, db, shop):
    delivery_id = _post(shop, "app/uninstalled", {"id": 1, "domain": shop.domain})
    assert process_delivery.run(delivery_id) == "processed"
    db.expire_all()
    refreshed = db.get(Shop, shop.id)
    assert (refreshed.status, refreshed.access_token_encrypted) == ("uninstalled", None)
    assert len(evidence(db, shop.domain, "shop.uninstalled")) == 1
    # Later deliveries for it are kept but not acted on.
    body, headers = signed(order_payload(), shop.domain, "orders/create")
    assert client.post(URL, content=body, headers=headers).json()["status"] == "unknown_shop"


@pytest.mark.e2e
def test_out_of_order_end_to_end_through_server_relay_and_worker(live_server, celery_worker, db, shop):
    create, update = _pair()

    def post(topic: str, payload: dict) -> int:
        body, headers = signed(payload, shop.domain, topic)
        response = httpx.post(f"{live_server}{URL}", content=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["delivery_id"]

    def processed(delivery_id: int) -> bool:
        return any(d.id == delivery_id and d.status == "processed" for d in deliveries(db, shop.domain))

    update_id = post("orders/updated", update)
    wait_for(lambda: processed(update_id), timeout=30, message="orders/updated processed by the worker")
    create_id = post("orders/create", create)
    wait_for(lambda: processed(create_id), timeout=30, message="orders/create processed by the worker")

    _assert_newest_state(shop, create, update)
    [stale] = evidence(db, shop.domain, "order.snapshot_stale")
    assert stale.webhook_delivery_id == create_id


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"updated_at": None}, "updated_at"), ({"customer": {"id": 1, "email": "a@" + "b" * 400 + ".com"}}, "StringData")],
    ids=["our_check", "database_refusal"],
)
def test_unprocessable_delivery_is_recorded_in_the_ledger_without_personal_data(db, shop, change, reason):
    payload = dict(order_payload(financial_status="pending"), **change)
    delivery_id = _post(shop, "orders/create", payload)
    assert process_delivery.run(delivery_id) == "failed"
    [event] = evidence(db, shop.domain, "webhook.unprocessable")
    assert event.webhook_delivery_id == delivery_id
    assert (event.data["delivery_id"], event.data["topic"]) == (delivery_id, "orders/create")
    assert reason in event.data["reason"]
    assert "bbbb" not in str(event.data)
    assert process_delivery.run(delivery_id) == "skipped"
    assert len(evidence(db, shop.domain, "webhook.unprocessable")) == 1
