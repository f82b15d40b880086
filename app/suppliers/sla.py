"""Supplier SLAs: confirm within X hours, ship within Y days, tracking within Z days of placing.

Per supplier (Supplier.settings["sla"]), else per shop (Settings, app.shops.settings, whose
defaults are the deployment's). A beat task finds breaches; each (supplier order, condition) is recorded
once (a unique row) with a "supplier.sla_breached" evidence event, whether the step came late or
has not come at all. The clock is a parameter so tests (and backfills) can choose "now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.fulfilments.models import Shipment
from app.insights.refresh import order_changed
from app.outbox.service import enqueue
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier, SupplierOrder

CONDITIONS = ("confirm", "ship", "tracking")
# Older supplier orders are not looked at again; a finished order is looked at for two days more.
LOOKBACK = timedelta(days=60)
SETTLED = timedelta(days=2)
BATCH = 2000


@dataclass(frozen=True)
class Sla:
    confirm_hours: float
    ship_days: float
    tracking_days: float

    def limit(self, condition: str) -> timedelta:
        return {
            "confirm": timedelta(hours=self.confirm_hours),
            "ship": timedelta(days=self.ship_days),
            "tracking": timedelta(days=self.tracking_days),
        }[condition]

    def as_data(self) -> dict[str, float]:
        return {"confirm_hours": self.confirm_hours, "ship_days": self.ship_days, "tracking_days": self.tracking_days}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def policy_for(shop: Shop, supplier: Supplier) -> Sla:
    """The supplier's own SLA where it has one, else the shop's (Settings; its defaults are the
    deployment's, app.shops.settings.SupplierSla) — the same values the Settings page shows."""
    own = (supplier.settings or {}).get("sla") or {}
    shop_wide = shop_settings.load(shop).supplier_sla

    def pick(name: str) -> float:
        return _number(own.get(name)) or float(getattr(shop_wide, name))

    return Sla(confirm_hours=pick("confirm_hours"), ship_days=pick("ship_days"), tracking_days=pick("tracking_days"))


def _observed(so: SupplierOrder, tracking_at: datetime | None) -> dict[str, datetime | None]:
    # A supplier that ships without confirming first has confirmed by shipping.
    return {"confirm": so.confirmed_at or so.shipped_at, "ship": so.shipped_at, "tracking": tracking_at}


def _candidates(
    session: Session, now: datetime, shop_id: int | None
) -> list[tuple[SupplierOrder, Supplier, Shop, datetime | None]]:
    tracking = (
        select(Shipment.supplier_order_id, func.min(Shipment.created_at).label("at"))
        .group_by(Shipment.supplier_order_id)
        .subquery()
    )
    query = (
        select(SupplierOrder, Supplier, Shop, tracking.c.at)
        .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .join(Shop, Shop.id == SupplierOrder.shop_id)
        .outerjoin(tracking, tracking.c.supplier_order_id == SupplierOrder.id)
        .where(
            Shop.status == "installed",
            SupplierOrder.placed_at.is_not(None),
            SupplierOrder.placed_at >= now - LOOKBACK,
            SupplierOrder.status.in_(("placed", "confirmed", "shipped")),
            or_(
                SupplierOrder.confirmed_at.is_(None),
                SupplierOrder.shipped_at.is_(None),
                tracking.c.at.is_(None),
                SupplierOrder.updated_at >= now - SETTLED,
            ),
        )
        .order_by(SupplierOrder.id)
        .limit(BATCH)
    )
    if shop_id is not None:
        query = query.where(SupplierOrder.shop_id == shop_id)
    return [tuple(row) for row in session.execute(query).all()]


def breaches_of(so: SupplierOrder, sla: Sla, tracking_at: datetime | None, now: datetime) -> list[dict[str, Any]]:
    """The conditions this supplier order has broken as of `now` (late, or still not done)."""
    found = []
    for condition, observed in _observed(so, tracking_at).items():
        due = so.placed_at + sla.limit(condition)
        if (observed or now) > due:
            found.append({"condition": condition, "due_at": due, "observed_at": observed,
                          "late_by_hours": round(((observed or now) - due).total_seconds() / 3600, 2)})
    return found


def detect_breaches(
    session: Session, *, now: datetime | None = None, shop_id: int | None = None
) -> list[SupplierSlaBreach]:
    """Record every new breach (flushes; the caller commits). Returns the breaches recorded now.
    `shop_id` narrows the scan to one shop (tests, a merchant's "check now")."""
    now = now or utcnow()
    recorded: list[SupplierSlaBreach] = []
    for so, supplier, shop, tracking_at in _candidates(session, now, shop_id):
        sla = policy_for(shop, supplier)
        for breach in breaches_of(so, sla, tracking_at, now):
            breach_id = session.scalar(
                insert(SupplierSlaBreach)
                .values(shop_id=shop.id, supplier_id=supplier.id, supplier_order_id=so.id, order_id=so.order_id,
                        condition=breach["condition"], due_at=breach["due_at"], detected_at=now)
                .on_conflict_do_nothing()
                .returning(SupplierSlaBreach.id)
            )
            if breach_id is None:
                continue  # recorded by an earlier run
            evidence.record(
                session,
                chain=shop.domain,
                shop_id=shop.id,
                order_id=so.order_id,
                kind="supplier.sla_breached",
                source="dropguard",
                data={
                    "supplier_order_id": so.id,
                    "supplier_id": supplier.id,
                    "supplier": supplier.name,
                    "condition": breach["condition"],
                    "placed_at": so.placed_at.isoformat(),
                    "due_at": breach["due_at"].isoformat(),
                    "observed_at": breach["observed_at"].isoformat() if breach["observed_at"] else None,
                    "late_by_hours": breach["late_by_hours"],
                    "sla": sla.as_data(),
                },
            )
            # A late supplier raises the order's risk of a refund: score it again.
            enqueue(session, "risk.rescore_order", so.order_id, "supplier_late")
            order_changed(session, so.order_id)  # a step not done in time counts as late on the scorecard
            recorded.append(session.get(SupplierSlaBreach, breach_id))
    session.flush()
    return recorded


def recent_breaches(session: Session, shop: Shop, *, limit: int = 50) -> list[tuple[SupplierSlaBreach, str]]:
    """The shop's latest breaches with their supplier's name, newest first (dashboard)."""
    rows = session.execute(
        select(SupplierSlaBreach, Supplier.name)
        .join(Supplier, Supplier.id == SupplierSlaBreach.supplier_id)
        .where(SupplierSlaBreach.shop_id == shop.id)
        .order_by(SupplierSlaBreach.detected_at.desc(), SupplierSlaBreach.id.desc())
        .limit(limit)
    ).all()
    return [(breach, name) for breach, name in rows]


def breach_counts(session: Session, shop: Shop, *, since: datetime) -> dict[int, dict[str, int]]:
    """Breaches per supplier and condition since a moment (scorecards, dashboard)."""
    rows = session.execute(
        select(SupplierSlaBreach.supplier_id, SupplierSlaBreach.condition, func.count())
        .where(SupplierSlaBreach.shop_id == shop.id, SupplierSlaBreach.detected_at >= since)
        .group_by(SupplierSlaBreach.supplier_id, SupplierSlaBreach.condition)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for supplier_id, condition, count in rows:
        counts.setdefault(supplier_id, {})[condition] = count
    return counts
