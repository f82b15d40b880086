"""Supplier health beat tasks: release held orders, detect SLA breaches."""

from __future__ import annotations

from app.db import session_scope
from app.suppliers import recovery, sla
from app.worker import celery_app


@celery_app.task(name="suppliers.release_queued")
def release_queued() -> dict[str, int]:
    return {str(supplier_id): count for supplier_id, count in recovery.release_all().items()}


@celery_app.task(name="suppliers.check_slas")
def check_slas() -> int:
    with session_scope() as session:
        return len(sla.detect_breaches(session))
