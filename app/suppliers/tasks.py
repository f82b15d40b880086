"""Supplier tasks: thin wrappers that load by id and call the service."""

from __future__ import annotations

import logging
import random

from sqlalchemy import select
from sqlalchemy.exc import DataError, OperationalError

from app.db import session_scope, utcnow
from app.errors import AppError
from app.suppliers import callbacks, cancellation, cj_stock, polling, service
from app.suppliers.client import SupplierTemporaryError
from app.webhooks.models import WebhookDelivery
from app.worker import celery_app

log = logging.getLogger(__name__)

# Retries are bounded by the supplier order's attempts (service.MAX_ATTEMPTS), not by Celery's
# counter: waiting for another task's lock is not an attempt and must not use up the budget.
# Deadlocks and lost database connections are retried too: a retry asks the supplier first, so a
# result that could not be recorded is adopted, not placed again.
_RETRY = {
    "autoretry_for": (SupplierTemporaryError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": None,
}
CANCEL_MAX_RETRIES = 8


def _busy_countdown() -> float:
    return random.uniform(1.0, 3.0)


@celery_app.task(name="suppliers.place_order", bind=True, **_RETRY)
def place_order(self, supplier_order_id: int) -> str:
    try:
        return service.place(supplier_order_id)
    except service.SupplierOrderBusy:
        raise self.retry(countdown=_busy_countdown()) from None


@celery_app.task(name="suppliers.cancel_order", bind=True, **_RETRY)
def cancel_order(self, supplier_order_id: int) -> str:
    try:
        return cancellation.cancel_at_supplier(supplier_order_id)
    except service.SupplierOrderBusy:
        raise self.retry(countdown=_busy_countdown()) from None
    except SupplierTemporaryError as error:
        if self.request.retries >= CANCEL_MAX_RETRIES:
            cancellation.give_up_cancel(supplier_order_id, error.message)
            return "gave_up"
        raise


@celery_app.task(name="suppliers.poll_due")
def poll_due() -> int:
    """Beat: enqueue the polls that are due (suppliers without order webhooks)."""
    return polling.enqueue_due()


@celery_app.task(name="suppliers.poll_order", bind=True, autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def poll_order(self, supplier_order_id: int) -> str:
    try:
        return polling.poll(supplier_order_id)
    except polling.PollBusy:
        raise self.retry(countdown=_busy_countdown()) from None


@celery_app.task(
    name="suppliers.process_callback",
    bind=True,
    autoretry_for=(OperationalError,),
    max_retries=8,
    retry_backoff=True,
)
def process_callback(self, delivery_id: int) -> str:
    """Apply one recorded supplier callback. Safe to run twice: only a 'queued' row is applied."""
    with session_scope() as session:
        delivery = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(key_share=True)
        )
        if delivery is None or delivery.status != "queued":
            return "skipped"
        try:
            with session.begin_nested():
                stock = delivery.source == callbacks.CJ_SOURCE and delivery.topic in cj_stock.TOPICS
                status = (cj_stock.apply if stock else callbacks.apply)(session, delivery)
        except (AppError, DataError) as error:
            # Bad content from the supplier (DataError: a value the schema cannot hold): recorded,
            # acknowledged, never retried into a loop.
            reason = error.message if isinstance(error, AppError) else str(error.orig).splitlines()[0]
            delivery.status, delivery.error, delivery.processed_at = "failed", reason, utcnow()
            log.warning(
                "supplier_callback.unprocessable", extra={"delivery_id": delivery_id, "reason": reason}
            )
            return "failed"
        delivery.status, delivery.processed_at = status, utcnow()
        return status
