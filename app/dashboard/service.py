"""Read models for the merchant dashboard. Every query takes the authenticated shop explicitly."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.fulfilments.models import Shipment
from app.notifications.models import Notification
from app.orders.models import Order
from app.shops.models import Shop
from app.suppliers.models import SupplierOrder

RECENT_LIMIT = 50


@dataclass
class OrderRow:
    order: Order
    supplier_orders: list[SupplierOrder] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


def _by_order(rows: list[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.order_id].append(row)
    return grouped


def _related(session: Session, shop: Shop, order_ids: list[int]) -> tuple[dict, dict, dict]:
    if not order_ids:
        return {}, {}, {}
    supplier_orders = session.scalars(
        select(SupplierOrder)
        .where(SupplierOrder.shop_id == shop.id, SupplierOrder.order_id.in_(order_ids))
        .order_by(SupplierOrder.id)
    ).all()
    shipments = session.scalars(
        select(Shipment).where(Shipment.shop_id == shop.id, Shipment.order_id.in_(order_ids)).order_by(Shipment.id)
    ).all()
    notifications = session.scalars(
        select(Notification)
        .where(Notification.shop_id == shop.id, Notification.order_id.in_(order_ids))
        .order_by(Notification.id)
    ).all()
    return _by_order(list(supplier_orders)), _by_order(list(shipments)), _by_order(list(notifications))


def recent_orders(session: Session, shop: Shop, *, limit: int = RECENT_LIMIT) -> list[OrderRow]:
    orders = session.scalars(
        select(Order).where(Order.shop_id == shop.id).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    ).all()
    suppliers, shipments, notifications = _related(session, shop, [o.id for o in orders])
    return [
        OrderRow(
            order=o,
            supplier_orders=suppliers.get(o.id, []),
            shipments=shipments.get(o.id, []),
            notifications=notifications.get(o.id, []),
        )
        for o in orders
    ]


def order_for_shop(session: Session, shop: Shop, order_id: int) -> Order | None:
    """The order only if it is this shop's: another shop's id looks exactly like a missing one."""
    return session.scalar(select(Order).where(Order.id == order_id, Order.shop_id == shop.id))


def order_detail(session: Session, shop: Shop, order: Order) -> tuple[OrderRow, list[EvidenceEvent]]:
    suppliers, shipments, notifications = _related(session, shop, [order.id])
    row = OrderRow(
        order=order,
        supplier_orders=suppliers.get(order.id, []),
        shipments=shipments.get(order.id, []),
        notifications=notifications.get(order.id, []),
    )
    return row, evidence.for_order(session, shop_id=shop.id, order_id=order.id)
