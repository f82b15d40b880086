from __future__ import annotations

from app.config import get_settings
from app.db import get_sessionmaker, session_scope
from app.outbox import maintenance
from app.outbox.service import relay_batch
from app.worker import celery_app


@celery_app.task(name="outbox.sweep")
def sweep() -> int:
    """Publish rows a crashed process committed but never published."""
    older_than = get_settings().outbox_sweep_after_seconds
    total = 0
    with get_sessionmaker()() as session:
        while published := relay_batch(session, older_than=older_than):
            total += published
    return total


@celery_app.task(name="outbox.maintain")
def maintain() -> dict[str, int]:
    """Beat (maintenance queue): requeue deliveries whose message was lost; trim the dispatched outbox."""
    settings = get_settings()
    with session_scope() as session:
        requeued = maintenance.requeue_stale(session, after_minutes=settings.inbox_requeue_after_minutes)
    purged = 0
    with get_sessionmaker()() as session:
        # One short transaction per batch: a big delete never holds locks for long.
        while deleted := maintenance.purge_dispatched_batch(session, retention_days=settings.outbox_retention_days):
            session.commit()
            purged += deleted
        session.commit()
    return {"requeued": requeued, "purged": purged}
