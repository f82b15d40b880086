"""Releasing messages held back by quiet hours (the notifications.release_deferred beat task)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.notifications.models import Notification
from app.notifications.service import SEND_TASK, _record, _shop
from app.outbox.service import enqueue

RELEASE_BATCH = 500


def release_deferred(session: Session, *, now: datetime | None = None) -> int:
    """Hand held-back messages whose quiet hours are over to the send task; returns how many."""
    due = session.scalars(
        select(Notification)
        .where(Notification.status == "deferred", Notification.due_at <= (now or utcnow()))
        # Oldest first, and in scheduling order within one release time: the send task still
        # holds a message behind an earlier one of its order (service.claim).
        .order_by(Notification.due_at, Notification.id)
        .limit(RELEASE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for notification in due:
        notification.status = "pending"
        shop = _shop(session, notification.shop_id)
        _record(
            session,
            shop,
            notification.order_id,
            "notification.released",
            {"notification_id": notification.id, "stage": notification.stage, "channel": notification.channel},
        )
        enqueue(session, SEND_TASK, notification.id)
    session.flush()
    return len(due)
