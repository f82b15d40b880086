"""Fulfilment tasks: thin wrappers that load by id and call the service."""

from __future__ import annotations

import random

from sqlalchemy.exc import OperationalError

from app.fulfilments import service, updates
from app.fulfilments.client import StoreTemporaryError
from app.worker import celery_app

# Every push to the store retries the store's temporary errors and database errors alike, with
# jittered backoff; how many times is each task's own choice.
_STORE_RETRIES = {
    "bind": True,
    "autoretry_for": (StoreTemporaryError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
}


# Retries are bounded by the shipment's store_attempts (service.MAX_ATTEMPTS): waiting for another
# task's lock is not an attempt and must not use up the budget. Database errors are retried too:
# every push reads the order's fulfilments first, so an unrecorded success is adopted.
@celery_app.task(
    name="fulfilments.push_to_store",
    **_STORE_RETRIES,
    max_retries=None,
)
def push_to_store(self, shipment_id: int) -> str:
    try:
        return service.push_to_store(shipment_id)
    except service.ShipmentBusy:
        raise self.retry(countdown=random.uniform(1.0, 3.0)) from None


# Waiting for the fulfilment to exist (or for another task's lock) is not an attempt; the store's
# temporary errors are bounded by the row's own attempt count (updates.MAX_ATTEMPTS).
@celery_app.task(
    name="fulfilments.push_event",
    **_STORE_RETRIES,
    max_retries=None,
)
def push_event(self, event_id: int) -> str:
    try:
        return updates.push_event(event_id)
    except updates.Busy:
        raise self.retry(countdown=random.uniform(2.0, 6.0), max_retries=200) from None


@celery_app.task(
    name="fulfilments.update_tracking",
    **_STORE_RETRIES,
    max_retries=12,
)
def update_tracking(self, shipment_id: int) -> str:
    try:
        return updates.update_tracking(shipment_id)
    except updates.Busy:
        raise self.retry(countdown=random.uniform(2.0, 6.0), max_retries=200) from None
