from __future__ import annotations

import logging

from sqlalchemy import select

from app.db import session_scope, utcnow
from app.errors import AppError
from app.shops.service import get_installed
from app.webhooks.models import WebhookDelivery
from app.webhooks.processing import HANDLERS
from app.worker import celery_app

log = logging.getLogger(__name__)


@celery_app.task(name="webhooks.process_delivery", bind=True, max_retries=8, retry_backoff=True)
def process_delivery(self, delivery_id: int) -> str:
    """Apply one inbox row. Safe to run twice: only a 'queued' row is applied, under its row lock."""
    with session_scope() as session:
        delivery = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        )
        if delivery is None or delivery.status != "queued":
            return "skipped"
        shop = get_installed(session, delivery.shop_id) if delivery.shop_id else None
        handler = HANDLERS.get(delivery.topic)
        if shop is None or handler is None:
            delivery.status, delivery.processed_at = "ignored", utcnow()
            return "ignored"
        try:
            with session.begin_nested():
                handler(session, shop, delivery)
        except AppError as error:
            # Bad content from the source: recorded, acknowledged, never retried into a loop.
            delivery.status, delivery.error, delivery.processed_at = "failed", error.message, utcnow()
            log.warning("webhook.unprocessable", extra={"delivery_id": delivery_id, "reason": error.message})
            return "failed"
        delivery.status, delivery.processed_at = "processed", utcnow()
        return "processed"
