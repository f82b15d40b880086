"""Tracking tasks: thin wrappers that load by id and call the tracking modules."""

from __future__ import annotations

import httpx
from sqlalchemy.exc import OperationalError

from app.db import session_scope
from app.outbox.service import enqueue
from app.tracking import delays, follow, ingest
from app.tracking.aggregators import AggregatorError, PayloadError
from app.webhooks.models import WebhookDelivery
from app.worker import celery_app


class _Retryable(Exception):
    """An aggregator answer worth trying again (429, 5xx, transport)."""


@celery_app.task(name="tracking.process_delivery", autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def process_delivery(delivery_id: int) -> str:
    try:
        with session_scope() as session:
            return ingest.process_delivery(session, delivery_id)
    except PayloadError as error:
        # Verified but unreadable on second look (it parsed at the door): recorded, never looped.
        with session_scope() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            delivery.status, delivery.error = "failed", str(error)[:1000]
        return "failed"


def _aggregator_call(function, *args):
    try:
        return function(*args)
    except AggregatorError as error:
        if error.retryable or error.status_code == 0:
            raise _Retryable(error.message) from None
        return f"refused: {error.message}"
    except httpx.TransportError as error:
        raise _Retryable(f"{type(error).__name__}: {error}") from None


@celery_app.task(name="tracking.register", autoretry_for=(_Retryable, OperationalError), max_retries=8,
                 retry_backoff=True, retry_backoff_max=600)
def register(shipment_id: int) -> str:
    return _aggregator_call(follow.register, shipment_id)


def _poll(shipment_id: int) -> str:
    with session_scope() as session:
        return follow.poll(session, shipment_id)


@celery_app.task(name="tracking.poll", autoretry_for=(_Retryable, OperationalError), max_retries=3,
                 retry_backoff=True)
def poll(shipment_id: int) -> str:
    return _aggregator_call(_poll, shipment_id)


@celery_app.task(name="tracking.poll_stale")
def poll_stale() -> int:
    with session_scope() as session:
        ids = follow.stale_shipments(session)
        for shipment_id in ids:
            enqueue(session, follow.POLL_TASK, shipment_id)
    return len(ids)


@celery_app.task(name="tracking.detect_delays", autoretry_for=(OperationalError,), max_retries=3)
def detect_delays() -> int:
    with session_scope() as session:
        return len(delays.detect(session))
