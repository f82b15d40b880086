"""Reporting a problem, the policy's offer, the customer's acceptance and the merchant's decision.

Every step is an evidence event on the order's chain; the customer's words, photo names and
address data go only in the redactable personal part. Carrying a remedy out (refund at the store,
reship through the supplier) happens in app.resolutions.executing, enqueued from here.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.fulfilments.models import Shipment
from app.insights import messages as customer_messages
from app.insights.refresh import order_changed
from app.notifications import service as notifications
from app.orders.models import Order
from app.outbox.service import enqueue
from app.resolutions import policy as policies
from app.resolutions.models import Resolution
from app.shops.models import Shop

EXECUTE_TASK = "resolutions.execute"
OPEN = ("offered", "pending_review", "awaiting_return", "approved")
QUEUE = ("pending_review", "awaiting_return", "failed")


class ResolutionError(Exception):
    """A step that is not possible in the resolution's state (shown to the user, 409)."""


def record(
    session: Session,
    shop: Shop,
    resolution: Resolution,
    kind: str,
    data: dict[str, Any],
    *,
    source: str = "dropguard",
    personal: dict[str, Any] | None = None,
) -> None:
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=resolution.order_id,
        kind=kind,
        source=source,
        data={"resolution_id": resolution.id, "status": resolution.status, **data},
        personal=personal,
    )
    order_changed(session, resolution.order_id)  # claims, remedies and refunds feed the analytics


def _since(session: Session, order: Order) -> datetime:
    """The policy's window runs from delivery, or from the order while it is not delivered."""
    delivered = session.scalar(
        select(Shipment.delivered_at)
        .where(Shipment.order_id == order.id, Shipment.delivered_at.is_not(None))
        .order_by(Shipment.delivered_at.desc())
        .limit(1)
    )
    return delivered or order.placed_at or order.created_at


def for_order(session: Session, order: Order) -> list[Resolution]:
    return list(session.scalars(select(Resolution).where(Resolution.order_id == order.id).order_by(Resolution.id)))


def notify(session: Session, order: Order, resolution: Resolution) -> None:
    """The resolution-update email, once per resolution and status."""
    notifications.schedule(
        session,
        order,
        stage="resolution_update",
        occurrence=f"{resolution.id}.{resolution.status}",
        context={
            "resolution_id": resolution.id,
            "status": {"pending_review": "submitted", "approved": "approved"}.get(resolution.status, resolution.status),
            "remedy": resolution.remedy or "",
            "amount": str(resolution.amount) if resolution.amount is not None else None,
            "currency": resolution.currency,
            "note": resolution.merchant_note or "",
        },
    )


def report(
    session: Session,
    shop: Shop,
    order: Order,
    *,
    reason: str,
    message: str,
    photos: list[dict[str, Any]],
    photo_names: list[str],
    locale: str,
    ip: str | None,
    user_agent: str | None,
) -> Resolution:
    if reason not in policies.REASONS:
        raise ResolutionError("resolution.bad_reason")
    policy = policies.for_shop(shop)
    policy_text = policies.text(policy, reason, locale, order.currency)
    offers = policies.offers(policy, reason, total=order.total_price, since=_since(session, order), now=utcnow())
    resolution = Resolution(
        shop_id=shop.id,
        order_id=order.id,
        reason=reason,
        status="offered" if offers else "pending_review",
        locale=locale,
        message=message,
        photos=photos,
        offers=[offer.as_json() for offer in offers],
        policy_version=policy.version,
        policy_digest=policies.digest(policy, policy_text),
        currency=order.currency,
    )
    session.add(resolution)
    session.flush()
    record(
        session,
        shop,
        resolution,
        "resolution.reported",
        {
            "reason": reason,
            "photos": photos,
            "message_digest": hashlib.sha256(message.encode()).hexdigest(),
            "offers": resolution.offers,
            "policy_version": policy.version,
            "policy_digest": resolution.policy_digest,
        },
        source="customer",
        personal={"message": message, "photo_names": photo_names, "ip": ip, "user_agent": (user_agent or "")[:512]},
    )
    # The customer's words are classified like every other message (reason, urgency, language).
    if message.strip():
        customer_messages.record(session, shop, source="claim", source_ref=f"resolution:{resolution.id}",
                                 body=message, order_id=order.id)
    if not offers:
        record(session, shop, resolution, "resolution.queued", {"why": "outside_policy"})
        notify(session, order, resolution)
    # A complaint raises the order's risk of a refund or dispute: score it again.
    enqueue(session, "risk.rescore_order", order.id, "complaint")
    session.flush()
    return resolution


def accept(
    session: Session,
    shop: Shop,
    order: Order,
    resolution: Resolution,
    *,
    remedy: str,
    ip: str | None,
    user_agent: str | None,
) -> Resolution:
    """The customer accepts one offered remedy under the policy they were shown."""
    if resolution.status != "offered":
        raise ResolutionError("resolution.already_decided")
    offer = next((o for o in resolution.offers if o["remedy"] == remedy), None)
    if offer is None:
        raise ResolutionError("resolution.not_offered")
    now = utcnow()
    resolution.remedy = remedy
    resolution.amount = Decimal(offer["amount"]) if offer["amount"] is not None else None
    resolution.accepted_at = now
    record(
        session,
        shop,
        resolution,
        "resolution.policy_accepted",
        {
            "remedy": remedy,
            "amount": offer["amount"],
            "policy_version": resolution.policy_version,
            "policy_digest": resolution.policy_digest,
            "within_policy": bool(offer["auto"]),
        },
        source="customer",
        personal={"ip": ip, "user_agent": (user_agent or "")[:512]},
    )
    if offer["auto"]:
        resolution.status, resolution.decided_by = "approved", "customer"
        record(session, shop, resolution, "resolution.approved", {"remedy": remedy, "by": "policy"})
        enqueue(session, EXECUTE_TASK, resolution.id)
    elif remedy == "return_first":
        resolution.status = "awaiting_return"
        record(session, shop, resolution, "resolution.awaiting_return", {"remedy": remedy})
    else:
        resolution.status = "pending_review"
        record(session, shop, resolution, "resolution.queued", {"why": "needs_merchant", "remedy": remedy})
    notify(session, order, resolution)
    session.flush()
    return resolution


def ask_shop(session: Session, shop: Shop, order: Order, resolution: Resolution) -> Resolution:
    """None of the offers suits the customer: the merchant decides."""
    if resolution.status != "offered":
        raise ResolutionError("resolution.already_decided")
    resolution.status = "pending_review"
    record(session, shop, resolution, "resolution.queued", {"why": "customer_asked_shop"}, source="customer")
    notify(session, order, resolution)
    session.flush()
    return resolution


def decide(
    session: Session,
    shop: Shop,
    resolution: Resolution,
    *,
    approve: bool,
    remedy: str | None,
    note: str,
) -> Resolution:
    """The merchant's answer from the queue: approve (with a remedy) or deny, with a note."""
    if resolution.status not in QUEUE:
        raise ResolutionError("resolution.not_in_queue")
    order = session.get(Order, resolution.order_id)
    resolution.merchant_note = note.strip()[:2000] or None
    resolution.decided_by = "merchant"
    if not approve:
        resolution.status = "denied"
        resolution.resolved_at = utcnow()
        record(session, shop, resolution, "resolution.denied", {"note_digest": _digest(note)}, source="merchant")
    else:
        chosen = remedy or resolution.remedy
        if resolution.status == "awaiting_return":
            chosen = "full_refund"  # the return arrived: the refund the return-first rule held back
        if chosen not in policies.REMEDIES or chosen == "return_first":
            raise ResolutionError("resolution.bad_remedy")
        policy = policies.for_shop(shop)
        resolution.remedy = chosen
        resolution.amount = policies.amount_for(policy, chosen, order.total_price)
        resolution.status = "approved"
        resolution.last_error = None
        record(
            session,
            shop,
            resolution,
            "resolution.approved",
            {"remedy": chosen, "amount": str(resolution.amount) if resolution.amount else None, "by": "merchant",
             "note_digest": _digest(note)},
            source="merchant",
        )
        enqueue(session, EXECUTE_TASK, resolution.id)
    notify(session, order, resolution)
    session.flush()
    return resolution


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def queue(session: Session, shop_id: int, *, limit: int = 100) -> list[Resolution]:
    return list(
        session.scalars(
            select(Resolution)
            .where(Resolution.shop_id == shop_id, Resolution.status.in_(QUEUE))
            # A customer threatening a chargeback or their bank comes first (app.insights).
            .order_by(customer_messages.urgent_exists(shop_id, Resolution.order_id).desc(), Resolution.created_at)
            .limit(limit)
        )
    )
