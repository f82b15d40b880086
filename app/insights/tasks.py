"""Celery entry points for insights (analytics queue): thin, by id."""

from __future__ import annotations

import time

from sqlalchemy.exc import OperationalError

from app.db import session_scope
from app.insights import aggregates, inbound, messages
from app.worker import celery_app


@celery_app.task(name="insights.refresh_order", autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def refresh_order(order_id: int) -> str:
    with session_scope() as session:
        return aggregates.refresh_order(session, order_id)


# One run drains what is pending, batch by batch, for at most this long (the next beat goes on).
DRAIN_SECONDS = 20.0


@celery_app.task(name="insights.refresh_pending", autoretry_for=(OperationalError,), max_retries=3,
                 retry_backoff=True)
def refresh_pending() -> int:
    """Every order whose facts changed since the last run, in batches (beat, every few seconds)."""
    done, deadline = 0, time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        with session_scope() as session:
            taken = aggregates.refresh_pending_batch(session)
        done += taken
        if taken < aggregates.BATCH_SIZE:
            break
    return done


@celery_app.task(name="insights.classify_message", autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def classify_message(message_id: int) -> str:
    with session_scope() as session:
        return messages.classify_stored(session, message_id)


@celery_app.task(name="insights.rebuild_shop", autoretry_for=(OperationalError,), max_retries=3,
                 retry_backoff=True)
def rebuild_shop(shop_id: int) -> int:
    with session_scope() as session:
        return aggregates.rebuild_shop(session, shop_id)


@celery_app.task(name="insights.process_inbound_mail", autoretry_for=(OperationalError,), max_retries=8,
                 retry_backoff=True)
def process_inbound_mail(delivery_id: int) -> str:
    with session_scope() as session:
        return inbound.process_delivery(session, delivery_id)
