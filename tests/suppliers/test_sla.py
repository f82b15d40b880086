"""Supplier SLA breaches: found with an injected clock, recorded once per order and condition."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.fulfilments.models import Shipment
from app.suppliers import sla
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier, SupplierOrder
from tests.suppliers.helpers import events, planned


def _placed(db, shop, *, hours_ago: float = 0, **fields) -> SupplierOrder:
    _, so = planned(db, shop)
    with get_sessionmaker()() as session:
        row = session.get(SupplierOrder, so.id)
        row.status = fields.pop("status", "placed")
        row.external_id = f"SUP-{so.id}"
        row.placed_at = utcnow() - timedelta(hours=hours_ago)
        for name, value in fields.items():
            setattr(row, name, value)
        session.commit()
        return row


def _detect(shop, now):
    with get_sessionmaker()() as session:
        found = [(b.supplier_order_id, b.condition) for b in sla.detect_breaches(session, now=now, shop_id=shop.id)]
        session.commit()
        return found


def test_breaches_found_once_per_order_and_condition(db, shop):
    so = _placed(db, shop)
    start = so.placed_at
    assert _detect(shop, start + timedelta(hours=23)) == []
    # 25 hours and still not confirmed: the default 24 h confirmation SLA is broken.
    assert _detect(shop, start + timedelta(hours=25)) == [(so.id, "confirm")]
    assert _detect(shop, start + timedelta(hours=26)) == []  # once only
    (event,) = events(shop.domain, "supplier.sla_breached")
    assert event.order_id == so.order_id
    assert event.data["condition"] == "confirm" and event.data["observed_at"] is None
    assert event.data["sla"] == {"confirm_hours": 24.0, "ship_days": 5.0, "tracking_days": 7.0}
    # Days later nothing shipped and no tracking: two more conditions, each once.
    assert sorted(_detect(shop, start + timedelta(days=8))) == [(so.id, "ship"), (so.id, "tracking")]
    assert _detect(shop, start + timedelta(days=9)) == []
    assert len(events(shop.domain, "supplier.sla_breached")) == 3


def test_late_steps_count_and_timely_steps_do_not(db, shop):
    placed = utcnow() - timedelta(days=10)
    late_confirm = _placed(db, shop, hours_ago=240, status="shipped", confirmed_at=placed + timedelta(hours=30),
                           shipped_at=placed + timedelta(days=2))
    with get_sessionmaker()() as session:
        session.add(Shipment(shop_id=shop.id, order_id=late_confirm.order_id, supplier_order_id=late_confirm.id,
                             tracking_number="LX123456785CN", created_at=late_confirm.placed_at + timedelta(days=2)))
        session.commit()
    on_time = _placed(db, shop, hours_ago=1, status="confirmed", confirmed_at=utcnow())
    found = _detect(shop, utcnow())
    assert found == [(late_confirm.id, "confirm")]
    (event,) = events(shop.domain, "supplier.sla_breached")
    assert event.data["late_by_hours"] == 6.0 and event.data["observed_at"] is not None
    assert on_time.id not in {so_id for so_id, _ in found}


def test_supplier_sla_wins_over_shop_and_defaults(db, shop):
    with get_sessionmaker()() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default))
        supplier.settings = {"sla": {"confirm_hours": 1}}
        session.get(type(shop), shop.id).settings = {"supplier_sla": {"confirm_hours": 48, "ship_days": 2}}
        session.commit()
        policy = sla.policy_for(session.get(type(shop), shop.id), supplier)
    assert policy == sla.Sla(confirm_hours=1, ship_days=2, tracking_days=7)
    so = _placed(db, shop)
    assert _detect(shop, so.placed_at + timedelta(hours=2)) == [(so.id, "confirm")]
    assert _detect(shop, so.placed_at + timedelta(days=3)) == [(so.id, "ship")]


def test_cancelled_and_unplaced_orders_are_not_judged(db, shop):
    cancelled = _placed(db, shop, status="cancelled")
    _, pending = planned(db, shop)
    assert _detect(shop, cancelled.placed_at + timedelta(days=30)) == []
    with get_sessionmaker()() as session:
        count = session.scalar(
            select(SupplierSlaBreach.id).where(SupplierSlaBreach.supplier_order_id.in_([cancelled.id, pending.id]))
        )
    assert count is None
