"""Celery entry points for refunds (thin; see issuing)."""

from __future__ import annotations

import random

from sqlalchemy.exc import OperationalError

from app.refunds import issuing
from app.worker import celery_app


# Temporary store errors are bounded by the refund's own attempt count (issuing.MAX_ATTEMPTS);
# waiting for another task's lock is not an attempt. Database errors are retried too: every
# attempt reads the order's refunds first, so an unrecorded success is adopted.
@celery_app.task(
    name="refunds.issue", bind=True, autoretry_for=(issuing.RetryLater, OperationalError), max_retries=None,
    retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
)
def issue(self, refund_id: int) -> str:
    try:
        return issuing.issue(refund_id)
    except issuing.RefundBusy:
        raise self.retry(countdown=random.uniform(1.0, 3.0)) from None


@celery_app.task(
    name="refunds.reconcile", bind=True, autoretry_for=(issuing.RetryLater, OperationalError), max_retries=5,
    retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
)
def reconcile(self, refund_id: int) -> str:
    return issuing.reconcile(refund_id)


@celery_app.task(name="refunds.reconcile_issued")
def reconcile_issued() -> int:
    return issuing.reconcile_due()
