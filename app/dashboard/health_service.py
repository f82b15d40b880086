"""Read models for supplier health (circuit, held orders, SLA breaches) and inventory sync.

Every query takes the authenticated shop explicitly; circuit state is read from Redis by the
shop's own supplier ids only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence.models import EvidenceEvent
from app.inventory.models import InventoryItem
from app.orders.models import Order
from app.shops.models import Shop
from app.suppliers import resilience, sla
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier

BREACH_WINDOW = timedelta(days=30)
LIST_LIMIT = 50


@dataclass
class SupplierHealth:
    supplier: Supplier
    circuit: dict[str, Any]
    held: int
    policy: sla.Sla
    breaches: dict[str, int] = field(default_factory=dict)


def _moment(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=utcnow().tzinfo) if value else None


def suppliers(session: Session, shop: Shop) -> list[SupplierHealth]:
    rows = session.scalars(select(Supplier).where(Supplier.shop_id == shop.id).order_by(Supplier.id)).all()
    counts = sla.breach_counts(session, shop, since=utcnow() - BREACH_WINDOW)
    found = []
    for supplier in rows:
        circuit = resilience.circuit(supplier.id)
        circuit["changed"] = _moment(circuit.get("changed_at"))
        circuit["last_failure"] = _moment(circuit.get("last_failure_at"))
        found.append(SupplierHealth(supplier=supplier, circuit=circuit, held=resilience.queue_length(session, supplier.id),
                                    policy=sla.policy_for(shop, supplier), breaches=counts.get(supplier.id, {})))
    return found


def breaches(session: Session, shop: Shop) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SupplierSlaBreach, Supplier.name, Order.name)
        .join(Supplier, Supplier.id == SupplierSlaBreach.supplier_id)
        .join(Order, Order.id == SupplierSlaBreach.order_id)
        .where(SupplierSlaBreach.shop_id == shop.id, Order.shop_id == shop.id)
        .order_by(SupplierSlaBreach.detected_at.desc(), SupplierSlaBreach.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [{"breach": b, "supplier": supplier_name, "order_name": order_name} for b, supplier_name, order_name in rows]


def circuit_events(session: Session, shop: Shop) -> list[EvidenceEvent]:
    return list(session.scalars(
        select(EvidenceEvent)
        .where(EvidenceEvent.shop_id == shop.id, EvidenceEvent.kind.like("supplier.circuit_%"))
        .order_by(EvidenceEvent.seq.desc())
        .limit(20)
    ))


@dataclass
class InventoryOverview:
    items: int
    linked: int
    pending: int
    oldest_pending: datetime | None
    published_24h: int
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_max_s: float | None
    last_published: datetime | None
    margin_alerts: list[InventoryItem]
    failed: list[InventoryItem]

    @property
    def current_lag_s(self) -> float | None:
        return (utcnow() - self.oldest_pending).total_seconds() if self.oldest_pending else None


def inventory(session: Session, shop: Shop) -> InventoryOverview:
    mine = InventoryItem.shop_id == shop.id
    items, linked, pending, oldest, last = session.execute(
        select(func.count(), func.count(InventoryItem.supplier_quantity),
               func.count().filter(InventoryItem.needs_publish),
               func.min(InventoryItem.supplier_changed_at).filter(InventoryItem.needs_publish),
               func.max(InventoryItem.published_at)).where(mine)
    ).one()
    recent = InventoryItem.published_at >= utcnow() - timedelta(days=1)
    published, p50, p95, worst = session.execute(
        select(func.count(), func.percentile_cont(0.5).within_group(InventoryItem.last_lag_ms),
               func.percentile_cont(0.95).within_group(InventoryItem.last_lag_ms), func.max(InventoryItem.last_lag_ms))
        .where(mine, recent, InventoryItem.last_lag_ms.is_not(None))
    ).one()
    alerts = session.scalars(
        select(InventoryItem).where(mine, InventoryItem.margin_alert_at.is_not(None))
        .order_by(InventoryItem.margin_alert_at.desc()).limit(LIST_LIMIT)
    ).all()
    failed = session.scalars(
        select(InventoryItem).where(mine, InventoryItem.last_error.is_not(None))
        .order_by(InventoryItem.updated_at.desc()).limit(LIST_LIMIT)
    ).all()

    def seconds(ms: float | None) -> float | None:
        return round(ms / 1000, 1) if ms is not None else None

    return InventoryOverview(items=items, linked=linked, pending=pending, oldest_pending=oldest,
                             published_24h=published, lag_p50_s=seconds(p50), lag_p95_s=seconds(p95),
                             lag_max_s=seconds(worst), last_published=last, margin_alerts=list(alerts),
                             failed=list(failed))
