"""Exactly one supplier order, proven against the sandbox supplier (which does NOT dedupe) with the
real web server, outbox relay and prefork Celery worker: duplicate and concurrent webhooks, racing
tasks, a lost answer after a timeout, and a worker process killed while its call is in flight.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.outbox.service import enqueue
from app.suppliers import service
from app.suppliers.models import SupplierOrder
from app.webhooks.models import WebhookDelivery
from tests.factories import order_payload, signed_headers
from tests.fixtures import wait_for
from tests.suppliers.e2e import (
    behave,
    emulator_orders,
    reset_supplier,
    store_shop,
    worker_children_calling_live_server,
)
from tests.suppliers.helpers import callback_body, kinds, paid_order, signed_callback, supplier_orders

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(live_server, celery_worker):
    # Callbacks would adopt the order before our retry looks it up: these tests follow placing only.
    reset_supplier()
    behave(auto_advance=False)
    yield live_server
    reset_supplier()


def _placed(order_id: int, timeout: float = 30) -> SupplierOrder:
    def done():
        rows = supplier_orders(order_id)
        return rows[0] if rows and rows[0].status not in ("pending",) else None

    return wait_for(done, timeout=timeout, message="the supplier order to be placed")


def _planned(db, shop, extra_place_tasks: int = 0) -> SupplierOrder:
    order = paid_order(db, shop)
    service.plan_for_order(db, order)
    so = db.scalar(select(SupplierOrder).where(SupplierOrder.order_id == order.id))
    for _ in range(extra_place_tasks):
        enqueue(db, service.PLACE_TASK, so.id)
    db.commit()
    return so


def test_duplicate_and_concurrent_paid_webhooks_place_one_order(db, sandbox):
    shop = store_shop(db)
    payload = order_payload()
    body = json.dumps(payload).encode()
    same_event = str(uuid.uuid4())

    def post(event_id: str) -> httpx.Response:
        headers = signed_headers(body, shop_domain=shop.domain, topic="orders/paid", event_id=event_id)
        return httpx.post(f"{sandbox}/webhooks/shopify", content=body, headers=headers, timeout=30)

    # 20 concurrent deliveries of one event, and the same paid order under three more event ids.
    event_ids = [same_event] * 20 + [str(uuid.uuid4()) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=23) as pool:
        responses = list(pool.map(post, event_ids))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["status"] for r in responses[:20]) == ["duplicate"] * 19 + ["queued"]

    def all_processed():
        with get_sessionmaker()() as session:
            statuses = session.scalars(
                select(WebhookDelivery.status).where(WebhookDelivery.shop_domain == shop.domain)
            ).all()
        return len(statuses) == 4 and "queued" not in statuses

    wait_for(all_processed, timeout=30, message="all four deliveries to be processed")
    with get_sessionmaker()() as session:
        order_id = session.scalar(select(SupplierOrder.order_id).where(SupplierOrder.shop_id == shop.id))
    placed = _placed(order_id)
    assert placed.status == "placed" and placed.attempts == 1
    assert len(supplier_orders(order_id)) == 1
    assert len(emulator_orders(placed.idempotency_key)) == 1


def test_two_place_tasks_at_once_make_one_order(db, sandbox):
    # Slow answers keep the first call in flight while the second task starts.
    behave(latency_ms=1500)
    shop = store_shop(db)
    so = _planned(db, shop, extra_place_tasks=1)
    placed = _placed(so.order_id)
    time.sleep(2)  # a second, unguarded call would have landed by now
    assert (placed.status, placed.attempts) == ("placed", 1)
    assert len(emulator_orders(so.idempotency_key)) == 1
    assert kinds(shop.domain, "supplier_order.attempt") == ["supplier_order.attempt"]


def test_timeout_then_success_makes_one_order(db, sandbox):
    # The emulator creates the order, then sits on the answer longer than our 1 s timeout.
    behave(hang_next=1, hang_ms=5000)
    shop = store_shop(db, supplier_timeout=1.0)
    so = _planned(db, shop)
    placed = _placed(so.order_id)
    assert (placed.status, placed.attempts) == ("placed", 2)
    assert len(emulator_orders(so.idempotency_key)) == 1
    assert kinds(shop.domain, "supplier_order.")[1:] == [
        "supplier_order.attempt",
        "supplier_order.call_failed",
        "supplier_order.attempt",
        "supplier_order.found_existing",
        "supplier_order.placed",
    ]


def test_worker_killed_mid_call_runs_again_and_makes_one_order(db, sandbox):
    # The order is created, the answer hangs; the process waiting for it is then SIGKILLed.
    behave(hang_next=1, hang_ms=20000)
    shop = store_shop(db, supplier_timeout=30.0)
    so = _planned(db, shop)
    wait_for(lambda: emulator_orders(so.idempotency_key), timeout=20, message="the order at the supplier")
    # Another pool child may hold an idle keep-alive connection to the same server; killing it
    # too is harmless (the pool replaces it) and makes sure the one in the call dies.
    children = wait_for(worker_children_calling_live_server, timeout=10, message="the pool child in the call")
    for child in children:
        os.kill(child.pid, signal.SIGKILL)
    placed = _placed(so.order_id, timeout=40)
    assert (placed.status, placed.attempts) == ("placed", 2)
    assert len(emulator_orders(so.idempotency_key)) == 1
    ledger = kinds(shop.domain, "supplier_order.")
    assert ledger.count("supplier_order.attempt") == 2
    assert "supplier_order.found_existing" in ledger
    assert "supplier_order.call_failed" not in ledger  # killed, not timed out


def test_callbacks_through_the_live_server(db, sandbox):
    shop = store_shop(db)
    so = _planned(db, shop)
    _placed(so.order_id)
    payload = callback_body(so.idempotency_key)
    body, headers = signed_callback(payload, secret="wrong-secret")
    url = f"{sandbox}/webhooks/suppliers/generic"
    assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == 401
    with get_sessionmaker()() as session:
        stored = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_id == payload["event_id"])
        ).all()
    assert stored == []
    unknown = callback_body(f"dg-unknown-{uuid.uuid4().hex[:8]}")
    body, headers = signed_callback(unknown)
    response = httpx.post(url, content=body, headers=headers, timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "unknown_order"
    assert supplier_orders(so.order_id)[0].status == "placed"
