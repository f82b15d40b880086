"""A supplier down and back, with the real server, relay, prefork worker and beat: its circuit
opens, the orders paid meanwhile are held, and they reach it in the order they were paid once it
answers again (the sandbox supplier numbers orders as it creates them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.suppliers import resilience, service
from app.suppliers.health_models import SupplierQueueEntry
from app.suppliers.models import Supplier, SupplierOrder
from tests.fixtures import wait_for
from tests.suppliers.e2e import behave, emulator_orders, reset_supplier, store_shop
from tests.suppliers.helpers import kinds, paid_order, supplier_orders

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(live_server, celery_worker):
    reset_supplier()
    behave(auto_advance=False)
    yield live_server
    reset_supplier()


def test_orders_held_while_the_supplier_is_down_reach_it_in_order(db, sandbox):
    behave(fail_next=10_000)  # every call answered 503
    shop = store_shop(db)
    with get_sessionmaker()() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default))
        supplier.settings = {"breaker_threshold": 2, "breaker_cooldown_seconds": 2}
        session.commit()
        resilience.reset(supplier.id)
    planned = []
    for _ in range(4):
        order = paid_order(db, shop)
        service.plan_for_order(db, order)
        db.commit()
        planned.append(supplier_orders(order.id)[0])

    def all_held():
        with get_sessionmaker()() as session:
            held = session.scalars(select(SupplierQueueEntry.supplier_order_id)
                                   .where(SupplierQueueEntry.supplier_id == supplier.id)).all()
        return len(held) == 4 and resilience.circuit(supplier.id)["state"] != "closed"

    wait_for(all_held, timeout=40, message="the circuit to open and all four orders to be held")
    behave(fail_next=0)

    def all_placed():
        with get_sessionmaker()() as session:
            rows = session.scalars(select(SupplierOrder).where(SupplierOrder.shop_id == shop.id)).all()
        return all(row.status == "placed" for row in rows) and len(rows) == 4

    wait_for(all_placed, timeout=60, message="the held orders to be placed after recovery")
    created = []
    for so in planned:
        (at_supplier,) = emulator_orders(so.idempotency_key)  # exactly once each
        created.append(int(at_supplier["id"].split("-")[1]))
    assert created == sorted(created), "the supplier received the orders out of order"
    circuit = kinds(shop.domain, "supplier.circuit")
    assert circuit[0] == "supplier.circuit_open" and circuit[-1] == "supplier.circuit_closed"
    assert "supplier.circuit_half_open" in circuit
    assert resilience.circuit(supplier.id)["state"] == "closed"
