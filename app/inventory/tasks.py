"""Inventory tasks: thin wrappers that load by id and call the sync code."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from app.db import session_scope
from app.inventory import polling, publish, service
from app.outbox.service import enqueue
from app.shops.admin_client import AdminTemporaryError
from app.suppliers import resilience
from app.worker import celery_app

_RETRY = {"autoretry_for": (AdminTemporaryError, OperationalError), "retry_backoff": True,
          "retry_backoff_max": 120, "retry_jitter": True, "max_retries": 8}


@celery_app.task(name="inventory.publish", bind=True, **_RETRY)
def publish_shop(self, shop_id: int) -> dict:
    report = publish.publish(shop_id)
    if report.busy:
        # Another publisher holds the shop; ours may carry changes it already passed.
        raise self.retry(countdown=1.0 + resilience.jittered_backoff(self.request.retries, base=2.0, cap=30.0))
    return report.as_data()


@celery_app.task(name="inventory.refresh_catalogue", bind=True, **_RETRY)
def refresh_catalogue(self, shop_id: int) -> dict:
    return publish.refresh_catalogue(shop_id).as_data()


@celery_app.task(name="inventory.publish_pending")
def publish_pending() -> int:
    """Beat: a publish for every shop with marked items (a debounced request may have missed)."""
    with session_scope() as session:
        shops = service.pending_shops(session)
        for shop_id in shops:
            service.request_publish(session, shop_id)
    return len(shops)


@celery_app.task(name="inventory.poll_stock")
def poll_stock() -> int:
    """Beat: ask suppliers without stock webhooks for the stock of their mapped products."""
    return sum(polling.poll_supplier(supplier_id) for supplier_id in polling.polled_suppliers())


@celery_app.task(name="inventory.refresh_all")
def refresh_all() -> int:
    """Beat: re-read the catalogue of every installed shop with mapped products (new variants,
    prices, quantities changed in the store), one task per shop."""
    with session_scope() as session:
        shops = service.shops_with_mappings(session)
        for shop_id in shops:
            enqueue(session, "inventory.refresh_catalogue", shop_id)
    return len(shops)
