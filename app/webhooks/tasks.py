from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import DataError, OperationalError

from app.db import session_scope, utcnow
from app.errors import AppError, NotYetKnown
from app.evidence import service as evidence
from app.shops.models import Shop
from app.shops.service import get_installed
from app.webhooks import topics
from app.webhooks.models import WebhookDelivery
from app.webhooks.processing import handler_for
from app.worker import celery_app

log = logging.getLogger(__name__)

# A delivery about something not received yet (NotYetKnown) waits this long before each new try;
# after the last it fails with its reason like any other refusal (about nine minutes in all).
_NOT_YET_DELAYS = (10, 30, 60, 120, 300)


class _Later(Exception):
    """Raised out of the unit of work so that nothing of this try is kept, then retried."""


# Deadlocks, serialisation failures and lost connections are worth another try; without
# autoretry_for the task would just fail and leave the delivery 'queued' for ever.
@celery_app.task(
    name="webhooks.process_delivery", bind=True, autoretry_for=(OperationalError,), max_retries=8, retry_backoff=True
)
def process_delivery(self, delivery_id: int) -> str:
    """Apply one inbox row. Safe to run twice: only a 'queued' row is applied, under its row lock."""
    try:
        return _process(delivery_id, may_wait=self.request.retries < len(_NOT_YET_DELAYS))
    except _Later:
        # The delivery stays 'queued' (the reaper's safety net is longer than all the waits).
        delay = _NOT_YET_DELAYS[min(self.request.retries, len(_NOT_YET_DELAYS) - 1)]
        raise self.retry(countdown=delay) from None


def _process(delivery_id: int, *, may_wait: bool) -> str:
    with session_scope() as session:
        delivery = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(key_share=True)
        )
        if delivery is None or delivery.status != "queued":
            return "skipped"
        shop = get_installed(session, delivery.shop_id) if delivery.shop_id else None
        if delivery.shop_id and delivery.topic in topics.COMPLIANCE:
            shop = session.get(Shop, delivery.shop_id)  # privacy duties outlive the installation
        handler = handler_for(delivery.topic)
        if shop is None or handler is None:
            delivery.status, delivery.processed_at = "ignored", utcnow()
            return "ignored"
        try:
            with session.begin_nested():
                handler(session, shop, delivery)
        except NotYetKnown as error:
            if may_wait:
                raise _Later(error.message) from error
            return _unprocessable(session, shop, delivery, error)
        except (AppError, DataError) as error:
            return _unprocessable(session, shop, delivery, error)
        delivery.status, delivery.processed_at = "processed", utcnow()
        return "processed"


def _unprocessable(session, shop: Shop, delivery: WebhookDelivery, error: AppError | DataError) -> str:
    # Bad content from the source (DataError: a value the schema cannot hold, such as an
    # over-long name or an out-of-range amount): recorded, never retried into a loop.
    reason = error.message if isinstance(error, AppError) else str(error.orig).splitlines()[0]
    delivery.status, delivery.error, delivery.processed_at = "failed", reason, utcnow()
    # The ledger says why a delivery the store sent changed nothing. Our own messages name
    # fields, not values; a database refusal may quote the value, so only its kind goes in.
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, kind="webhook.unprocessable", source="dropguard",
        data={"delivery_id": delivery.id, "topic": delivery.topic,
              "reason": reason[:500] if isinstance(error, AppError) else _refusal(error)},
        webhook_delivery_id=delivery.id,
    )
    log.warning("webhook.unprocessable", extra={"delivery_id": delivery.id, "reason": reason})
    return "failed"


def _refusal(error: DataError) -> str:
    """A database refusal without the refused value (it may be a name or an address)."""
    return f"database refused a value: {type(error.orig).__name__}"
