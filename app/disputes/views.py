"""One reading of a dispute and its pack, shared by the JSON API, the pages and the document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.disputes import narrative, packs
from app.disputes.models import Dispute
from app.orders.models import Order


def find(session: Session, shop_id: int, dispute_id: int) -> Dispute | None:
    """The shop's dispute by our id; another shop's dispute does not exist for it."""
    return session.scalar(select(Dispute).where(Dispute.id == dispute_id, Dispute.shop_id == shop_id))


def for_shop(session: Session, shop_id: int) -> list[tuple[Dispute, str | None]]:
    """The shop's disputes, open ones first by deadline, then decided ones newest first."""
    rows = session.execute(
        select(Dispute, Order.name).outerjoin(Order, Order.id == Dispute.order_id).where(Dispute.shop_id == shop_id)
    ).all()
    open_first = sorted(
        rows, key=lambda r: (r[0].outcome is not None, (r[0].evidence_due_by or datetime.max.replace(tzinfo=UTC))
                             if r[0].outcome is None else -(r[0].opened_at or r[0].created_at).timestamp()))
    return [(dispute, name) for dispute, name in open_first]


def local_deadline(dispute: Dispute) -> str | None:
    """The deadline in the store's own clock, as the store gave it (e.g. 2026-12-22T19:00:00-05:00)."""
    if dispute.evidence_due_by is None:
        return None
    zone = timezone(timedelta(minutes=dispute.evidence_due_offset or 0))
    return dispute.evidence_due_by.astimezone(zone).isoformat()


def summary(dispute: Dispute, order_name: str | None, pack: packs.Pack | None = None) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "external_id": dispute.external_id,
        "order": order_name,
        "type": dispute.kind,
        "reason": dispute.reason,
        "network_reason_code": dispute.network_reason_code,
        "amount": str(dispute.amount) if dispute.amount is not None else None,
        "currency": dispute.currency,
        "status": dispute.status,
        "outcome": dispute.outcome,
        "evidence_due_by": local_deadline(dispute),
        "evidence_due_day_only": dispute.evidence_due_day_only,
        "submission_status": dispute.submission_status,
        "complete": pack.complete if pack else None,
    }


def detail(dispute: Dispute, pack: packs.Pack) -> dict[str, Any]:
    return {
        **summary(dispute, pack.order.name if pack.order else None, pack),
        "status_history": list(dispute.status_history or []),
        "submitted_at": dispute.submitted_at.isoformat() if dispute.submitted_at else None,
        "submission_error": dispute.submission_error,
        "pack": {
            "family": pack.family,
            "complete": pack.complete,
            "refunded": str(pack.refunded),
            "elements": [
                {"key": e.key, "label": e.label, "present": e.present, "summary": e.summary,
                 "missing_reason": e.missing_reason, "fix": e.fix, "required": e.required}
                for e in pack.elements
            ],
            "narrative": narrative.current(pack),
            "narrative_edited": dispute.narrative is not None,
        },
    }
