"""Celery entry points for disputes (thin; see fetching and submission)."""

from __future__ import annotations

import random

from sqlalchemy.exc import OperationalError

from app.disputes import fetching, reminders, submission
from app.worker import celery_app


@celery_app.task(name="disputes.fetch", autoretry_for=(fetching.RetryLater, OperationalError), max_retries=8,
                 retry_backoff=True, retry_backoff_max=300, retry_jitter=True)
def fetch(dispute_id: int) -> str:
    return fetching.fetch(dispute_id)


# Temporary store errors are bounded by the dispute's own attempt count (submission.MAX_ATTEMPTS);
# every attempt reads the store's evidence first, so an unrecorded submission is adopted.
@celery_app.task(name="disputes.submit", bind=True, autoretry_for=(submission.RetryLater, OperationalError),
                 max_retries=None, retry_backoff=True, retry_backoff_max=300, retry_jitter=True)
def submit(self, dispute_id: int) -> str:
    try:
        return submission.submit(dispute_id)
    except submission.SubmissionBusy:
        raise self.retry(countdown=random.uniform(1.0, 3.0)) from None


@celery_app.task(name="disputes.auto_submit_due")
def auto_submit_due() -> int:
    return submission.auto_submit_due()


@celery_app.task(name="disputes.remind_due")
def remind_due() -> int:
    return reminders.remind_due()
