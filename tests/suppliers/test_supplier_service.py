"""Placing and cancelling supplier orders against an in-test fake of protocol A (our side's logic).

The same guarantees are proven against the real sandbox emulator and real worker processes in
test_supplier_e2e.py; these tests pin the ledger and state details cheaply.
"""

from __future__ import annotations

import threading

import pytest

from app import exactly_once
from app.db import get_sessionmaker
from app.orders.models import DeliveryAddress, Order
from app.suppliers import cancellation, service
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.models import SupplierOrder
from tests.suppliers.helpers import (
    FakeSupplier,
    events,
    hold_outbox,
    kinds,
    outbox,
    paid_order,
    planned,
    supplier_orders,
)


def _planned(db, shop, **kwargs) -> tuple[Order, SupplierOrder]:
    return planned(db, shop, **kwargs)


def _status(order_id: int) -> str:
    with get_sessionmaker()() as session:
        return session.get(Order, order_id).status


def test_plan_is_idempotent_and_enqueues_once(db, shop):
    order = paid_order(db, shop)
    service.plan_for_order(db, order)
    service.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    (so,) = supplier_orders(order.id)
    assert so.idempotency_key == f"dg-{shop.id}-{order.id}-{so.supplier_id}"
    assert (so.status, so.attempts) == ("pending", 0)
    assert len(outbox("suppliers.place_order", so.id)) == 1
    assert kinds(shop.domain, "supplier_order.") == ["supplier_order.planned"]


def test_place_records_attempt_before_and_result_after(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    assert service.place(so.id, transport=fake.transport()) == "placed"
    (placed,) = supplier_orders(order.id)
    assert (placed.status, placed.attempts, placed.external_id) == ("placed", 1, "SUP-1")
    assert _status(order.id) == "supplier_ordered"
    assert kinds(shop.domain, "supplier_order.") == [
        "supplier_order.planned",
        "supplier_order.attempt",
        "supplier_order.placed",
    ]
    (attempt,) = events(shop.domain, "supplier_order.attempt")
    # The address went to the supplier and into the redactable part only.
    assert attempt.personal["ship_to"]["address1"] == "12 Analytical Row"
    assert "Analytical" not in str(attempt.data)
    (result,) = events(shop.domain, "supplier_order.placed")
    assert result.data["calls"][0]["method"] == "POST" and result.data["calls"][0]["status"] == 201
    assert fake.requests == [("POST", "/orders")]
    # A second run finds nothing to do and calls nobody.
    assert service.place(so.id, transport=fake.transport()) == "placed"
    assert len(fake.requests) == 1


def test_lost_answer_is_adopted_on_retry_not_placed_twice(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    fake.lose_next = 1
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id, transport=fake.transport())
    (pending,) = supplier_orders(order.id)
    assert (pending.status, pending.attempts) == ("pending", 1)
    assert service.place(so.id, transport=fake.transport()) == "placed"
    assert len(fake.for_reference(so.idempotency_key)) == 1
    assert fake.requests == [("POST", "/orders"), ("GET", "/orders")]
    assert kinds(shop.domain, "supplier_order.")[1:] == [
        "supplier_order.attempt",
        "supplier_order.call_failed",
        "supplier_order.attempt",
        "supplier_order.found_existing",
        "supplier_order.placed",
    ]
    (failed,) = events(shop.domain, "supplier_order.call_failed")
    assert "timeout" in failed.data["error"]


def test_retry_posts_when_the_supplier_never_got_the_order(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    fake.fail_next = 1  # 503 before applying: nothing exists at the supplier
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id, transport=fake.transport())
    assert service.place(so.id, transport=fake.transport()) == "placed"
    assert fake.requests == [("POST", "/orders"), ("GET", "/orders"), ("POST", "/orders")]
    assert len(fake.for_reference(so.idempotency_key)) == 1


def test_out_of_stock_fails_with_reason(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    fake.out_of_stock = {"SKU-0"}
    assert service.place(so.id, transport=fake.transport()) == "failed"
    (failed,) = supplier_orders(order.id)
    assert failed.status == "failed" and "out_of_stock" in failed.last_error and "SKU-0" in failed.last_error
    (event,) = events(shop.domain, "supplier_order.failed")
    assert event.data["code"] == "out_of_stock" and event.data["http_status"] == 409
    assert _status(order.id) == "paid"


def test_gives_up_after_the_last_attempt(db, shop, monkeypatch):
    monkeypatch.setattr(service, "MAX_ATTEMPTS", 2)
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    fake.fail_next = 5
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id, transport=fake.transport())
    assert service.place(so.id, transport=fake.transport()) == "failed"
    (failed,) = supplier_orders(order.id)
    assert failed.status == "failed" and failed.last_error.startswith("gave up after 2 attempts")


def test_a_held_lock_means_busy_and_no_call(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    with exactly_once.advisory_lock(exactly_once.SUPPLIER_ORDER, so.id) as held:
        assert held
        with pytest.raises(service.SupplierOrderBusy):
            service.place(so.id, transport=fake.transport())
    assert fake.requests == []
    assert supplier_orders(order.id)[0].attempts == 0


def test_concurrent_places_call_once(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    results: list[str] = []
    barrier = threading.Barrier(6)

    def run() -> None:
        barrier.wait()
        try:
            results.append(service.place(so.id, transport=fake.transport()))
        except service.SupplierOrderBusy:
            results.append("busy")

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.for_reference(so.idempotency_key)) == 1
    assert supplier_orders(order.id)[0].attempts == 1
    assert "placed" in results


def test_order_without_address_goes_to_review_without_calling(db, shop):
    # Issue 4: an address that cannot be fixed waits in the merchant's queue; nothing is planned.
    payload_order = paid_order(db, shop)
    with get_sessionmaker()() as session:
        session.delete(session.get(DeliveryAddress, payload_order.id))
        session.commit()
    service.plan_for_order(db, payload_order)
    hold_outbox(db)
    db.commit()
    assert supplier_orders(payload_order.id) == []
    assert kinds(shop.domain, "order.flagged.") == ["order.flagged.address"]


def test_address_lost_after_planning_fails_without_calling(db, shop):
    order, so = _planned(db, shop)
    with get_sessionmaker()() as session:
        session.delete(session.get(DeliveryAddress, order.id))
        session.commit()
    fake = FakeSupplier()
    assert service.place(so.id, transport=fake.transport()) == "failed"
    assert fake.requests == [] and supplier_orders(order.id)[0].attempts == 0


def test_cancel_before_sending_needs_no_call(db, shop):
    order, so = _planned(db, shop)
    service.cancel_for_order(db, db.get(Order, order.id))
    hold_outbox(db)
    db.commit()
    assert supplier_orders(order.id)[0].status == "cancelled"
    assert outbox("suppliers.cancel_order", so.id) == []
    fake = FakeSupplier()
    assert service.place(so.id, transport=fake.transport()) == "cancelled"
    assert fake.requests == []


def test_cancel_after_placing_calls_the_supplier(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    service.place(so.id, transport=fake.transport())
    db.expire_all()
    service.cancel_for_order(db, db.get(Order, order.id))
    hold_outbox(db)
    db.commit()
    assert supplier_orders(order.id)[0].status == "cancelling"
    assert len(outbox("suppliers.cancel_order", so.id)) == 1
    assert cancellation.cancel_at_supplier(so.id, transport=fake.transport()) == "cancelled"
    assert fake.orders[0]["status"] == "cancelled"
    assert kinds(shop.domain, "supplier_order.cancel")[-2:] == [
        "supplier_order.cancel_requested",
        "supplier_order.cancelled",
    ]
    assert events(shop.domain, "supplier_order.cancelled")[0].data["supplier_called"] is True
    # Done once: a repeated task changes nothing.
    assert cancellation.cancel_at_supplier(so.id, transport=fake.transport()) == "cancelled"
    assert fake.requests.count(("POST", "/orders/SUP-1/cancel")) == 1


def test_cancel_of_an_unanswered_attempt_looks_the_order_up(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    fake.lose_next = 1
    with pytest.raises(SupplierTemporaryError):
        service.place(so.id, transport=fake.transport())
    db.expire_all()
    service.cancel_for_order(db, db.get(Order, order.id))
    hold_outbox(db)
    db.commit()
    assert cancellation.cancel_at_supplier(so.id, transport=fake.transport()) == "cancelled"
    assert fake.orders[0]["status"] == "cancelled"
    assert supplier_orders(order.id)[0].external_id == "SUP-1"
    # The pending placement retry, if it runs now, stops.
    assert service.place(so.id, transport=fake.transport()) == "cancelled"


def test_cancel_refused_when_already_shipped(db, shop):
    order, so = _planned(db, shop)
    fake = FakeSupplier()
    service.place(so.id, transport=fake.transport())
    fake.orders[0]["status"] = "shipped"
    db.expire_all()
    service.cancel_for_order(db, db.get(Order, order.id))
    hold_outbox(db)
    db.commit()
    assert cancellation.cancel_at_supplier(so.id, transport=fake.transport()) == "placed"
    (refused,) = events(shop.domain, "supplier_order.cancel_refused")
    assert "already shipped" in refused.data["reason"]
