"""Celery entry points for disputes (thin; see fetching and submission)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from app.disputes import fetching
from app.worker import celery_app


@celery_app.task(name="disputes.fetch", autoretry_for=(fetching.RetryLater, OperationalError), max_retries=8,
                 retry_backoff=True, retry_backoff_max=300, retry_jitter=True)
def fetch(dispute_id: int) -> str:
    return fetching.fetch(dispute_id)
