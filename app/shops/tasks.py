"""Shop tasks: webhook subscriptions (after install, at worker start, hourly, after a scope
change) and the history import. Thin: load by id, call the service."""

from __future__ import annotations

from celery import signals
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app import exactly_once
from app.db import get_sessionmaker, session_scope
from app.history import service as history
from app.outbox import service as outbox
from app.shops import subscriptions
from app.shops.admin_client import AdminClient, AdminTemporaryError
from app.shops.models import Shop
from app.shops.tokens import TokenTemporaryError
from app.worker import celery_app

_TEMPORARY = (AdminTemporaryError, TokenTemporaryError, OperationalError)


@celery_app.task(name="shops.sync_subscriptions", autoretry_for=_TEMPORARY, retry_backoff=True,
                 retry_backoff_max=300, retry_jitter=True, max_retries=8)
def sync_subscriptions(shop_id: int) -> dict[str, int] | str:
    with get_sessionmaker()() as session:
        shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_installed:
        return "not installed"
    # Install, worker start-up and scope changes may each ask at once: one sync per shop at a time,
    # or two would both see a topic missing and subscribe it twice. The one running does the job.
    with exactly_once.advisory_lock(exactly_once.SHOP_SUBSCRIPTIONS, shop_id) as acquired:
        if not acquired:
            return "already syncing"
        with AdminClient.for_shop(shop) as client:
            return subscriptions.sync(shop, client)


@celery_app.task(name="shops.reconcile_subscriptions")
def reconcile_subscriptions() -> int:
    """Every installed shop gets a sync task of its own (one slow store never delays the rest)."""
    with session_scope() as session:
        ids = list(session.scalars(select(Shop.id).where(Shop.status == "installed")))
        for shop_id in ids:
            outbox.enqueue(session, "shops.sync_subscriptions", shop_id)
    return len(ids)


@celery_app.task(name="shops.import_history", autoretry_for=_TEMPORARY, retry_backoff=True,
                 retry_backoff_max=600, retry_jitter=True, max_retries=10)
def import_history(shop_id: int) -> str:
    # Resumable: a retry continues after the last stored page.
    return history.run_import(shop_id)


@signals.worker_ready.connect
def _reconcile_at_start(**_: object) -> None:
    # Subscriptions are reconciled at start-up (through the outbox, so it survives a crash).
    with session_scope() as session:
        outbox.enqueue(session, "shops.reconcile_subscriptions")
