"""Celery entry points for resolutions: carry out an approved remedy, and hear how its refund went
(thin; see executing)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from app.resolutions import executing
from app.worker import celery_app


@celery_app.task(name="resolutions.execute", autoretry_for=(OperationalError,), max_retries=8, retry_backoff=True)
def execute_resolution(resolution_id: int) -> str:
    return executing.execute(resolution_id)


@celery_app.task(name="resolutions.refund_settled", autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def refund_settled(resolution_id: int) -> str:
    return executing.refund_settled(resolution_id)


@celery_app.task(name="resolutions.reship_settled", autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def reship_settled(resolution_id: int) -> str:
    return executing.reship_settled(resolution_id)
