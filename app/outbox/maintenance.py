"""Inbox reaper and outbox retention, run by the maintenance beat task "outbox.maintain".

A delivery is 'queued' from the moment it is recorded until a worker applies it. Its outbox row is
marked dispatched once Celery accepted the message, so a message lost afterwards (Redis restarted
without persistence, a purged queue) would leave the delivery 'queued' for ever: the reaper queues
it again through the outbox. Processing only applies a 'queued' row under its lock, so a duplicate
message is harmless.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.outbox.service import enqueue
from app.redis import get_redis, key
from app.suppliers.callbacks import CALLBACK_TASK, CJ_SOURCE
from app.suppliers.callbacks import SOURCE as GENERIC_SUPPLIER_SOURCE
from app.tracking.ingest import PARSERS as CARRIER_PARSERS
from app.tracking.ingest import PROCESS_TASK as CARRIER_TASK
from app.webhooks.models import WebhookDelivery
from app.webhooks.service import PROCESS_TASK as STORE_TASK

log = logging.getLogger(__name__)

# Every inbox source whose deliveries wait in 'queued' for a task, and that task.
PROCESS_TASKS = {
    "shopify": STORE_TASK,
    GENERIC_SUPPLIER_SOURCE: CALLBACK_TASK,
    CJ_SOURCE: CALLBACK_TASK,
    **{provider: CARRIER_TASK for provider in CARRIER_PARSERS},
}


def requeue_stale(session: Session, *, after_minutes: int, batch: int = 200) -> int:
    """Queue again every delivery still 'queued' `after_minutes` after it arrived; the caller commits.

    A delivery requeued once is left alone for another `after_minutes` (a Redis marker), so a long
    backlog is not flooded with copies; if the marker is lost it is only requeued once more.
    """
    cutoff = utcnow() - timedelta(minutes=after_minutes)
    stale = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "queued", WebhookDelivery.received_at < cutoff)
        .order_by(WebhookDelivery.id)
        .limit(batch)
        .with_for_update(skip_locked=True)  # one being applied right now is not stale
    ).all()
    redis = get_redis()
    count = 0
    for delivery in stale:
        task = PROCESS_TASKS.get(delivery.source)
        if task is None:
            log.warning("webhook.requeue_unknown_source", extra={"delivery_id": delivery.id, "source": delivery.source})
            continue
        if not redis.set(key("inbox", "requeued", str(delivery.id)), 1, nx=True, ex=after_minutes * 60):
            continue
        enqueue(session, task, delivery.id)
        evidence.record(
            session, chain=delivery.shop_domain, shop_id=delivery.shop_id, kind="webhook.requeued",
            source="dropguard", webhook_delivery_id=delivery.id,
            data={"delivery_id": delivery.id, "source": delivery.source, "topic": delivery.topic, "task": task,
                  "received_at": delivery.received_at.isoformat()},
        )
        count += 1
    session.flush()
    return count


# Oldest first along the primary key, so each batch finds its rows at the front of the index.
_PURGE = text(
    """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox
        WHERE dispatched_at IS NOT NULL AND dispatched_at < now() - make_interval(secs => :seconds)
        ORDER BY id LIMIT :batch
    )
    """
)


def purge_dispatched_batch(session: Session, *, retention_days: float, batch: int = 1000) -> int:
    """Delete one batch of dispatched rows past retention; returns how many. The caller commits.

    The outbox is plumbing, not evidence: what happened is in the ledger (evidence_events) and the
    inbox (webhook_deliveries), so a published row has nothing left to say once it is old.
    """
    return session.execute(_PURGE, {"seconds": retention_days * 86400, "batch": batch}).rowcount
