"""Circuit breaker, hold queue and rate limit per supplier (Redis shared by all workers).

Placement runs in-process against the in-test fake of protocol A; the breaker, the bucket and
the queue are the real ones (Redis and PostgreSQL).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.suppliers import recovery, resilience, service
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.health_models import SupplierQueueEntry
from app.suppliers.models import Supplier
from tests.suppliers.helpers import FakeSupplier, events, kinds, planned, supplier_orders

COOLDOWN = 0.4


def _tune(shop, **settings) -> Supplier:
    with get_sessionmaker()() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default))
        supplier.settings = {**(supplier.settings or {}), **settings}
        session.commit()
        resilience.reset(supplier.id)
        return supplier


def _queued(supplier_id: int) -> list[int]:
    with get_sessionmaker()() as session:
        return list(session.scalars(
            select(SupplierQueueEntry.supplier_order_id)
            .where(SupplierQueueEntry.supplier_id == supplier_id)
            .order_by(SupplierQueueEntry.supplier_order_id)
        ))


def _fail_until_open(so_id: int, fake: FakeSupplier, times: int) -> None:
    for _ in range(times):
        with pytest.raises(SupplierTemporaryError):
            service.place(so_id, transport=fake.transport())


def test_circuit_opens_after_consecutive_failures_probes_half_open_and_closes(db, shop):
    supplier = _tune(shop, breaker_threshold=3, breaker_cooldown_seconds=COOLDOWN)
    _, so = planned(db, shop)
    fake = FakeSupplier()
    fake.fail_next = 100

    _fail_until_open(so.id, fake, 3)
    assert resilience.circuit(supplier.id)["state"] == "open"
    assert kinds(shop.domain, "supplier.circuit") == ["supplier.circuit_open"]
    (opened,) = events(shop.domain, "supplier.circuit_open")
    assert opened.data["consecutive_failures"] == 3 and opened.data["supplier_id"] == supplier.id

    # Open: the order is held, the supplier is not called.
    calls = len(fake.requests)
    assert service.place(so.id, transport=fake.transport()) == "queued"
    assert len(fake.requests) == calls
    assert _queued(supplier.id) == [so.id]
    assert recovery.release_supplier(supplier.id, transport=fake.transport()) == 0
    assert len(fake.requests) == calls  # still cooling down

    # After the cool-down one probe goes out; it fails, so the circuit opens again.
    time.sleep(COOLDOWN + 0.1)
    assert recovery.release_supplier(supplier.id, transport=fake.transport()) == 0
    assert len(fake.requests) == calls + 1
    assert resilience.circuit(supplier.id)["state"] == "open"
    assert kinds(shop.domain, "supplier.circuit")[-2:] == ["supplier.circuit_half_open", "supplier.circuit_open"]

    # The supplier recovers: the next probe succeeds, the circuit closes and the order is placed.
    fake.fail_next = 0
    time.sleep(COOLDOWN + 0.1)
    assert recovery.release_supplier(supplier.id, transport=fake.transport()) == 1
    assert resilience.circuit(supplier.id)["state"] == "closed"
    assert kinds(shop.domain, "supplier.circuit")[-2:] == ["supplier.circuit_half_open", "supplier.circuit_closed"]
    assert [o["reference"] for o in fake.orders] == [so.idempotency_key]
    assert supplier_orders(so.order_id)[0].status == "placed"
    assert _queued(supplier.id) == []


def test_a_refusal_is_an_answer_and_does_not_count_as_a_failure(db, shop):
    supplier = _tune(shop, breaker_threshold=2, breaker_cooldown_seconds=COOLDOWN)
    fake = FakeSupplier()
    fake.out_of_stock = {"SKU-1", None}
    for _ in range(3):
        _, so = planned(db, shop)
        service.place(so.id, transport=fake.transport())
    assert resilience.circuit(supplier.id)["state"] == "closed"


def test_orders_held_while_down_reach_the_recovered_supplier_in_order(db, shop):
    supplier = _tune(shop, breaker_threshold=2, breaker_cooldown_seconds=COOLDOWN)
    fake = FakeSupplier()
    fake.fail_next = 100
    _, first = planned(db, shop)
    _fail_until_open(first.id, fake, 2)
    assert service.place(first.id, transport=fake.transport()) == "queued"

    later = [planned(db, shop)[1] for _ in range(4)]
    # Their tasks run in any order; each is held.
    for so in reversed(later):
        assert service.place(so.id, transport=fake.transport()) == "queued"
    expected = [first.id] + [so.id for so in later]
    assert _queued(supplier.id) == expected

    fake.fail_next = 0
    time.sleep(COOLDOWN + 0.1)
    # A task for a held order that wakes up now must not overtake the queue head.
    assert service.place(later[2].id, transport=fake.transport()) == "queued"
    assert recovery.release_supplier(supplier.id, transport=fake.transport()) == 5
    references = [o["reference"] for o in fake.orders]
    assert references == [so.idempotency_key for so in [first, *later]]
    assert _queued(supplier.id) == []

    # With the queue empty and the circuit closed, a new order goes straight out.
    _, fresh = planned(db, shop)
    assert service.place(fresh.id, transport=fake.transport()) == "placed"
    # The first waited after its own failed call (its call_failed event says so); the others
    # were held without being sent.
    queued_events = events(shop.domain, "supplier_order.queued")
    assert {e.data["supplier_order_id"] for e in queued_events} == {so.id for so in later}


def test_an_order_that_failed_is_not_overtaken_by_a_later_one(db, shop):
    supplier = _tune(shop, breaker_threshold=5, breaker_cooldown_seconds=COOLDOWN)
    fake = FakeSupplier()
    fake.fail_next = 1
    _, first = planned(db, shop)
    with pytest.raises(SupplierTemporaryError):
        service.place(first.id, transport=fake.transport())
    assert resilience.circuit(supplier.id)["state"] == "closed"
    # Its retry is minutes away; a later order's task runs now and waits behind it.
    _, second = planned(db, shop)
    assert service.place(second.id, transport=fake.transport()) == "queued"
    assert recovery.release_supplier(supplier.id, transport=fake.transport()) == 2
    assert [o["reference"] for o in fake.orders] == [first.idempotency_key, second.idempotency_key]


def test_rate_limit_is_shared_and_spaces_calls(db, shop):
    supplier = _tune(shop, rate_per_second=4, rate_burst=2)
    waits: list[float] = []
    started = time.monotonic()

    def take() -> None:
        waits.append(resilience.take_token(supplier, max_wait=10))

    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    # Two from the burst, then four more at 4 per second: about one second in all.
    assert 0.9 <= elapsed < 3.0, elapsed
    assert sum(1 for w in waits if w == 0) == 2

    # A caller that would wait longer than it may gives the work back (a temporary error).
    for _ in range(2):
        resilience.take_token(supplier, max_wait=10)
    with pytest.raises(resilience.SupplierBusy):
        resilience.take_token(supplier, max_wait=0.01)


def test_jittered_backoff_stays_within_its_cap():
    values = [resilience.jittered_backoff(attempt, base=1, cap=8) for attempt in range(10) for _ in range(20)]
    assert all(0 <= v <= 8 for v in values)
    assert len({round(v, 3) for v in values}) > 50  # spread, not one fixed delay
