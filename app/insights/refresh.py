"""The one hook other domains call when a fact that feeds the insights changes for an order.

It only adds an outbox row (`insights.refresh_order`, analytics queue) to the caller's transaction,
once per order and transaction: the refresh runs after the commit, in a worker, and recomputes
the order from its source rows, so a hook fired twice, late or out of order does no harm.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.outbox.service import enqueue

REFRESH_TASK = "insights.refresh_order"
REBUILD_TASK = "insights.rebuild_shop"
_SEEN = "insights_refresh_enqueued"


def order_changed(session: Session, order_id: int | None) -> None:
    if order_id is None:
        return
    seen: set[int] = session.info.setdefault(_SEEN, set())
    if order_id in seen:
        return
    seen.add(order_id)
    enqueue(session, REFRESH_TASK, order_id)


def shop_sla_changed(session: Session, shop_id: int) -> None:
    """Every on-time figure of the shop is judged again against the SLA now in force."""
    enqueue(session, REBUILD_TASK, shop_id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_SEEN, None)
