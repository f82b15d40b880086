"""Risk tasks: thin wrappers that load by id and call the risk services."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.db import session_scope
from app.outbox.service import enqueue
from app.risk import cards, service, training
from app.shops.models import Shop
from app.worker import celery_app


@celery_app.task(name="risk.rescore_order", autoretry_for=(OperationalError,), max_retries=5, retry_backoff=True)
def rescore_order(order_id: int, trigger: str = "event") -> str:
    """Enqueued by name where an event about the order arrives (late supplier, no first scan,
    complaint, delay)."""
    with session_scope() as session:
        score = service.rescore(session, order_id, f"rescore:{trigger}")
        return score.level if score else "skipped"


@celery_app.task(name="risk.publish_card", bind=True, autoretry_for=(OperationalError,), max_retries=None,
                 retry_backoff=True, retry_backoff_max=120, retry_jitter=True)
def publish_card(self, order_id: int, digest: str) -> str:
    try:
        return cards.publish(order_id, digest)
    except cards.CardBusy:
        raise self.retry(countdown=random.uniform(1.0, 3.0), max_retries=100) from None
    except cards.RetryLater as error:
        # The card's own attempt count (cards.MAX_ATTEMPTS) bounds these retries.
        raise self.retry(exc=error, countdown=min(10 * 2 ** self.request.retries, 600)) from None


@celery_app.task(name="risk.train_shop", autoretry_for=(OperationalError,), max_retries=3, retry_backoff=True)
def train_shop(shop_id: int) -> str:
    report = service.train_and_rescore(shop_id)
    return report.status


@celery_app.task(name="risk.train_all")
def train_all() -> int:
    """Beat: every installed shop's model retrained from its newest outcomes (one task each)."""
    with session_scope() as session:
        shop_ids = list(session.scalars(select(Shop.id).where(Shop.status == "installed").order_by(Shop.id)))
        for shop_id in shop_ids:
            enqueue(session, "risk.train_shop", shop_id)
    return len(shop_ids)


@celery_app.task(name="risk.refresh_all", autoretry_for=(OperationalError,), max_retries=3, retry_backoff=True)
def refresh_all() -> int:
    """Beat: new outcome facts collected and the history counts live scores read recomputed."""
    with session_scope() as session:
        shop_ids = list(session.scalars(select(Shop.id).where(Shop.status == "installed").order_by(Shop.id)))
    for shop_id in shop_ids:
        with session_scope() as session:
            training.refresh(session, session.get(Shop, shop_id))
    return len(shop_ids)
