"""Privacy tasks: shop erasure (after shop/redact) and the periodic housekeeping."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from app.db import session_scope
from app.privacy import service, uploads
from app.worker import celery_app

log = logging.getLogger(__name__)


@celery_app.task(
    name="privacy.erase_shop", bind=True, autoretry_for=(OperationalError,), max_retries=8, retry_backoff=True
)
def erase_shop(self, shop_id: int) -> str:
    """Erase every row of an uninstalled shop. Safe to run twice: a second run finds nothing."""
    with session_scope() as session:
        outcome = service.erase_shop(session, shop_id)
    if outcome in ("erased", "gone"):
        # Files after the rows: a rolled-back erasure must not leave rows pointing at nothing.
        uploads.erase_shop_files(shop_id)
    return outcome


@celery_app.task(
    name="privacy.housekeeping", autoretry_for=(OperationalError,), max_retries=3, retry_backoff=True
)
def housekeeping() -> dict[str, int]:
    """Release held redactions whose disputes have closed; drop exports past their retention."""
    with session_scope() as session:
        released = service.release_held(session)
        purged = service.purge_expired_exports(session)
    if released or purged:
        log.info("privacy.housekeeping", extra={"released": released, "purged": purged})
    return {"released": released, "purged": purged}
