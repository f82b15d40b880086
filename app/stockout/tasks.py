"""Celery entry point: hear how a cancelling customer's refund went (thin; see service)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from app.stockout import service
from app.worker import celery_app


@celery_app.task(name="stockout.refund_settled", autoretry_for=(OperationalError,), max_retries=8, retry_backoff=True)
def refund_settled(refund_id: int) -> str:
    return service.refund_settled(refund_id)
