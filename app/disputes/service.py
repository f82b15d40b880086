"""Disputes as the store reports them (disputes/create|update), the GraphQL read that completes
them (network reason code, type), their status history and outcome."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.disputes.models import Dispute
from app.errors import AppError
from app.evidence import service as evidence
from app.insights.refresh import order_changed
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

# Shopify's dispute statuses (REST lower case); PREVENTED came with GraphQL in 2026.
OPEN_STATUSES = frozenset({"needs_response", "under_review"})
CLOSED_STATUSES = frozenset({"charge_refunded", "accepted", "won", "lost", "prevented"})
KINDS = frozenset({"chargeback", "inquiry"})
FETCH_TASK = "disputes.fetch"


class BadDisputePayload(AppError):
    code = "bad_dispute_payload"


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadDisputePayload(f"{field} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise BadDisputePayload(f"{field} has no time zone")
    return moment


def _offset_minutes(moment: datetime | None) -> int | None:
    offset = moment.utcoffset() if moment else None
    return int(offset.total_seconds() // 60) if offset is not None else None


def add_status(dispute: Dispute, status: str, at: datetime, source: str) -> None:
    """One more step of the status history (a repeat of the current status adds nothing)."""
    history = list(dispute.status_history or [])
    if history and history[-1]["status"] == status:
        return
    history.append({"status": status, "at": at.isoformat(), "source": source})
    dispute.status_history = history
    if status in CLOSED_STATUSES:
        dispute.outcome = status


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadDisputePayload("amount is not an amount") from None


def upsert(
    session: Session, shop: Shop, payload: dict[str, Any], *, delivery_id: int | None = None
) -> Dispute:
    """Create or update the dispute from its REST JSON. A closed dispute never reopens."""
    if payload.get("id") is None or str(payload.get("status") or "").strip() == "":
        raise BadDisputePayload("a dispute payload needs id and status")
    external_id = str(payload["id"])[:64]
    status = str(payload["status"]).strip().lower()[:32]
    if status not in OPEN_STATUSES | CLOSED_STATUSES:
        raise BadDisputePayload(f"unknown dispute status {status!r}")
    dispute = session.scalar(
        select(Dispute)
        .where(Dispute.shop_id == shop.id, Dispute.external_id == external_id)
        .with_for_update()
    )
    previous = dispute.status if dispute else None
    if dispute is None:
        dispute = Dispute(shop_id=shop.id, external_id=external_id, status=status)
        session.add(dispute)
    order_external = payload.get("order_id")
    if order_external is not None and dispute.order_id is None:
        dispute.order_id = (
            session.scalar(
                select(Order.id).where(Order.shop_id == shop.id, Order.external_id == int(order_external))
            )
            if str(order_external).isdigit()
            else None
        )
    # An update delivered late must not reopen a dispute the bank already decided.
    if previous not in CLOSED_STATUSES:
        dispute.status = status
        add_status(dispute, status, utcnow(), "webhook")
    kind = str(payload.get("type") or "").strip().lower()
    if kind in KINDS:
        dispute.kind = kind
    if payload.get("network_reason_code"):
        dispute.network_reason_code = str(payload["network_reason_code"]).strip()[:16]
    dispute.reason = (str(payload["reason"])[:64] if payload.get("reason") else None) or dispute.reason
    dispute.amount = _amount(payload.get("amount")) if payload.get("amount") is not None else dispute.amount
    dispute.currency = (str(payload.get("currency") or "")[:3] or None) or dispute.currency
    due = _time(payload.get("evidence_due_by"), "evidence_due_by")
    if due is not None:
        # The webhook's timestamp is the real cut-off (GraphQL gives only the day).
        dispute.evidence_due_by, dispute.evidence_due_offset = due, _offset_minutes(due)
        dispute.evidence_due_day_only = False
    dispute.evidence_sent_on = _time(payload.get("evidence_sent_on"), "evidence_sent_on") or dispute.evidence_sent_on
    dispute.opened_at = _time(payload.get("initiated_at"), "initiated_at") or dispute.opened_at or utcnow()
    if dispute.status in CLOSED_STATUSES and dispute.closed_at is None:
        dispute.closed_at = _time(payload.get("finalized_on"), "finalized_on") or utcnow()
    session.flush()
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=dispute.order_id,
        kind="dispute.updated" if previous else "dispute.opened",
        source="shopify",
        data={
            "dispute_id": dispute.id,
            "external_id": external_id,
            "status": dispute.status,
            "previous_status": previous,
            "type": dispute.kind,
            "reason": dispute.reason,
            "network_reason_code": dispute.network_reason_code,
            "amount": dispute.amount,
            "currency": dispute.currency,
            "evidence_due_by": payload.get("evidence_due_by") or None,
            "outcome": dispute.outcome,
        },
        webhook_delivery_id=delivery_id,
    )
    if previous is None:
        # The webhook lacks what GraphQL's dispute(id:) has (the network code may be missing).
        enqueue(session, FETCH_TASK, dispute.id)
    order_changed(session, dispute.order_id)  # dispute rates by supplier, product, lane
    return dispute


def apply_webhook(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    upsert(session, shop, delivery.payload, delivery_id=delivery.id)


def open_for_orders(session: Session, shop: Shop, order_ids: list[int]) -> list[Dispute]:
    """The disputes still undecided on any of these orders (their evidence must be kept)."""
    if not order_ids:
        return []
    return list(
        session.scalars(
            select(Dispute)
            .where(
                Dispute.shop_id == shop.id, Dispute.order_id.in_(order_ids), Dispute.status.in_(OPEN_STATUSES)
            )
            .order_by(Dispute.id)
        )
    )
