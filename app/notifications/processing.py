"""The "processing" message: paid orders still without tracking after a while hear from us.

A beat task (notifications.schedule_processing) looks for orders paid more than
settings.processing_after_hours ago that have no shipment yet and no processing message, so a
customer whose parcel takes days to leave is told it is being prepared before they worry.
schedule() keeps it to one per order even if another part (a supplier confirmation) sent it first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.fulfilments.models import Shipment
from app.notifications import service
from app.notifications.models import Notification
from app.orders.models import Order

BATCH = 500
# Orders older than this are not written to any more: the moment to reassure has passed.
LOOKBACK = timedelta(days=30)


def due_orders(session: Session, *, now: datetime | None = None, limit: int = BATCH) -> list[Order]:
    now = now or utcnow()
    cutoff = now - timedelta(hours=get_settings().processing_after_hours)
    placed = func.coalesce(Order.placed_at, Order.created_at)
    return list(
        session.scalars(
            select(Order)
            .where(
                Order.status.in_(("paid", "supplier_ordered")),
                placed <= cutoff,
                placed > now - LOOKBACK,
                ~exists().where(Shipment.order_id == Order.id),
                ~exists().where(and_(Notification.order_id == Order.id, Notification.stage == "processing")),
            )
            .order_by(Order.id)
            .limit(limit)
        )
    )


def schedule_due(session: Session, *, now: datetime | None = None) -> int:
    orders = due_orders(session, now=now)
    for order in orders:
        service.schedule(session, order, stage="processing")
    session.flush()
    return len(orders)
