from __future__ import annotations

from app.config import get_settings
from app.db import get_sessionmaker
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
