"""What the supplier health page shows: circuit state, held orders and SLA breaches.

Every query takes the authenticated shop explicitly; circuit state is read from Redis by the
shop's own supplier ids only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence.models import EvidenceEvent
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
