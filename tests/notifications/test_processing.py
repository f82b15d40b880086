"""The processing message goes to paid orders still without tracking after processing_after_hours."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.config import get_settings
from app.db import utcnow
from app.notifications import processing
from app.notifications.models import Notification
from app.orders.models import Order
from tests.notifications.helpers import add_shipment, paid_order


def _age(db, order, hours: float) -> None:
    db.execute(update(Order).where(Order.id == order.id).values(placed_at=utcnow() - timedelta(hours=hours)))
    db.commit()


def _stages(db, order) -> list[str]:
    return list(db.scalars(select(Notification.stage).where(Notification.order_id == order.id)))


def test_only_old_enough_untracked_paid_orders_hear_once(db, make_shop):
    hours = get_settings().processing_after_hours
    shop = make_shop()
    waiting, fresh, shipped, ancient = (paid_order(db, shop) for _ in range(4))
    _age(db, waiting, hours + 1)
    _age(db, fresh, hours - 1)
    _age(db, shipped, hours + 1)
    add_shipment(db, shipped)
    _age(db, ancient, 24 * 40)

    due = {o.id for o in processing.due_orders(db, limit=100_000)}
    assert waiting.id in due and not {fresh.id, shipped.id, ancient.id} & due
    processing.schedule_due(db)
    db.commit()
    assert "processing" in _stages(db, waiting)
    for other in (fresh, shipped, ancient):
        assert "processing" not in _stages(db, other)
    # The next beat finds nothing new for it.
    assert waiting.id not in {o.id for o in processing.due_orders(db, limit=100_000)}
