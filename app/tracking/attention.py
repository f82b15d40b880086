"""Tracking's item on Home's "needs you today": parcels with an open alert (stuck, delayed,
delivery failed, exception, returning) — the shipments page's own list."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.orders.models import Order
from app.shops.models import Shop
from app.tracking.models import ShipmentAlert
from app.web.attention import register_attention


def parcels_in_trouble(session: Session, shop: Shop) -> int:
    return session.scalar(select(func.count(func.distinct(ShipmentAlert.shipment_id)))
                          .join(Order, Order.id == ShipmentAlert.order_id)
                          .where(ShipmentAlert.shop_id == shop.id, Order.shop_id == shop.id,
                                 ShipmentAlert.resolved_at.is_(None))) or 0


register_attention("parcels_in_trouble", "home.attention.parcels_in_trouble", "/admin/shipments",
                   parcels_in_trouble, tone="warning", order=30)
