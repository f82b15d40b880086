"""The one hook other domains call when a fact that feeds the insights changes for an order.

It only adds a row to insights_pending_refreshes in the caller's transaction, once per order and
transaction. The beat's `insights.refresh_pending` (analytics queue, every few seconds) takes the
pending rows in batches and recomputes each order from its source rows, so a hook fired twice,
late or out of order does no harm. One task per batch replaced one task per fact change: an order
changed about ten times on its way from paid to shipped, and each change was a task, an outbox
row and a refresh of its own (bench/pipeline, docs/notes/perf.md).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.insights.models import PendingRefresh
from app.outbox.service import enqueue

# The per-order task: kept for rows enqueued before the batch existed (and by hand).
REFRESH_TASK = "insights.refresh_order"
BATCH_TASK = "insights.refresh_pending"
REBUILD_TASK = "insights.rebuild_shop"
_SEEN = "insights_refresh_enqueued"


def order_changed(session: Session, order_id: int | None) -> None:
    if order_id is None:
        return
    seen: set[int] = session.info.setdefault(_SEEN, set())
    if order_id in seen:
        return
    seen.add(order_id)
    session.add(PendingRefresh(order_id=order_id))


def shop_sla_changed(session: Session, shop_id: int) -> None:
    """Every on-time figure of the shop is judged again against the SLA now in force."""
    enqueue(session, REBUILD_TASK, shop_id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_SEEN, None)
