"""The suppliers domain's items on Home's "needs you today": held orders waiting for the merchant,
suppliers breaching their SLA lately, suppliers whose circuit is open (their orders are held)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.shops.models import Shop
from app.suppliers import resilience
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier
from app.suppliers.tables import OrderFlag
from app.web.attention import register_attention

# Home looks at the last week: a breach older than that is on the scorecards, not a to-do.
SLA_WINDOW = timedelta(days=7)


def held_orders(session: Session, shop: Shop) -> int:
    """Orders with an open flag: each waits for the merchant on the review queue."""
    return session.scalar(select(func.count(func.distinct(OrderFlag.order_id)))
                          .where(OrderFlag.shop_id == shop.id, OrderFlag.resolved_at.is_(None))) or 0


def sla_breaches(session: Session, shop: Shop) -> int:
    return session.scalar(select(func.count()).select_from(SupplierSlaBreach)
                          .where(SupplierSlaBreach.shop_id == shop.id,
                                 SupplierSlaBreach.detected_at >= utcnow() - SLA_WINDOW)) or 0


def suppliers_down(session: Session, shop: Shop) -> int:
    ids = session.scalars(select(Supplier.id).where(Supplier.shop_id == shop.id)).all()
    return sum(1 for supplier_id in ids if resilience.circuit(supplier_id).get("state") == "open")


register_attention("held_orders", "home.attention.held_orders", "/admin/review", held_orders,
                   tone="critical", order=10)
register_attention("suppliers_down", "home.attention.suppliers_down", "/admin/suppliers/health", suppliers_down,
                   tone="critical", order=15)
register_attention("sla_breaches", "home.attention.sla_breaches", "/admin/suppliers/health", sla_breaches,
                   tone="warning", order=50)
