"""Reporting a problem, the policy's offer, the customer's acceptance and the merchant's decision.

Every step is an evidence event on the order's chain; the customer's words, photo names and
address data go only in the redactable personal part. Carrying a remedy out (refund at the store,
reship through the supplier) happens in app.resolutions.executing, enqueued from here.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import exactly_once
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
    """A step that is not possible (a refused claim, or not in the resolution's state): `code` is
    the customer's text key; `available_from` the date a claim refused as too early becomes possible."""

    def __init__(self, code: str, available_from: datetime | None = None) -> None:
        super().__init__(code)
        self.code, self.available_from = code, available_from


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


_LOST_REASONS = ("lost", "destroyed")
# A parcel the carrier never scanned this long after it was handed over is lost in all but name.
NEVER_SCANNED_LOST = timedelta(days=14)


def parcel_of(session: Session, order: Order) -> policies.Parcel:
    """The order's parcels as the policy judges them: delivered once every parcel the carrier
    tracks is delivered (the window then runs from the last delivery), lost when one is lost,
    destroyed or going back (or never scanned two weeks after shipping), and the latest estimate of
    the parcels still on their way."""
    now = utcnow()
    shipments = session.scalars(select(Shipment).where(Shipment.order_id == order.id)).all()
    delivered = [s.delivered_at for s in shipments if s.delivered_at is not None]
    open_ = [s for s in shipments if s.delivered_at is None]
    estimates = [s.expected_by for s in open_ if s.expected_by is not None]
    return policies.Parcel(
        placed_at=order.placed_at or order.created_at,
        delivered_at=max(delivered) if delivered and not open_ else None,
        expected_by=max(estimates) if estimates else None,
        lost=any(s.status in ("returning", "returned") or s.status_reason in _LOST_REASONS
                 or (s.first_scan_at is None and s.shipped_at is not None and now - s.shipped_at > NEVER_SCANNED_LOST)
                 for s in open_),
    )


def assess(session: Session, shop: Shop, order: Order, reason: str, *, photos: int) -> policies.Assessment:
    """The claim judged by the shop's policy; raises ResolutionError when it cannot be made (yet)."""
    assessment = policies.assess(
        policies.for_shop(shop), reason, parcel=parcel_of(session, order), total=order.total_price,
        currency=order.currency, shop_currency=shop.currency, photos=photos, now=utcnow())
    if assessment.refusal:
        raise ResolutionError(assessment.refusal, assessment.available_from)
    return assessment


def _lock(session: Session, resolution: Resolution) -> Resolution:
    """The claim re-read under its row lock (after the order's, the order every writer of it
    follows), so that two answers racing each other see each other: a second accept or decision
    finds the first one's status and is refused, and the approval is recorded once."""
    exactly_once.lock_after_store_order(session, Resolution, resolution.id)
    return resolution  # the same identity, refreshed by the locking read


def for_order(session: Session, order: Order) -> list[Resolution]:
    return list(session.scalars(select(Resolution).where(Resolution.order_id == order.id).order_by(Resolution.id)))


# Statuses whose remedy is decided: only their messages name an outcome and an amount. A pending
# request promises nothing (a merchant's own template reads the same context).
DECIDED = ("approved", "completed")


def notify(session: Session, order: Order, resolution: Resolution, *, status: str | None = None,
           occurrence: str | None = None) -> None:
    """The resolution-update email, once per resolution and status (or `occurrence`)."""
    status = status or {"pending_review": "submitted"}.get(resolution.status, resolution.status)
    decided = resolution.status in DECIDED
    notifications.schedule(
        session,
        order,
        stage="resolution_update",
        occurrence=occurrence or f"{resolution.id}.{resolution.status}",
        context={
            "resolution_id": resolution.id,
            "status": status,
            # awaiting_return: what the customer is to do (send it back), never an amount.
            "remedy": (resolution.remedy or "") if decided or resolution.status == "awaiting_return" else "",
            "amount": str(resolution.amount) if decided and resolution.amount is not None else None,
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
    for_merchant: bool = False,
) -> Resolution:
    """A claim the customer makes, judged by the policy; `for_merchant`: opened on the customer's
    behalf (an urgent message) for the merchant to answer, so nothing is offered or decided by policy."""
    if for_merchant:
        if reason not in policies.REASONS:
            raise ResolutionError("resolution.bad_reason")
        offers: tuple[policies.Offer, ...] = ()
    else:
        offers = assess(session, shop, order, reason, photos=len(photos)).offers
    policy = policies.for_shop(shop)
    policy_text = policies.text(policy, reason, locale, shop.currency)
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
        why = "opened_for_merchant" if for_merchant else "outside_policy"
        record(session, shop, resolution, "resolution.queued", {"why": why})
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
    _lock(session, resolution)
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
    _lock(session, resolution)
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
    _lock(session, resolution)
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


def decided_by_policy(session: Session, shop_id: int, *, days: int = 30, limit: int = 100) -> list[Resolution]:
    """Claims the policy decided without the merchant (the customer accepted an automatic offer),
    newest first: the merchant sees every one, with its photos and why it was automatic."""
    return list(
        session.scalars(
            select(Resolution)
            .where(Resolution.shop_id == shop_id, Resolution.decided_by == "customer",
                   Resolution.accepted_at >= utcnow() - timedelta(days=days))
            .order_by(Resolution.accepted_at.desc())
            .limit(limit)
        )
    )


def offer_for(resolution: Resolution, remedy: str | None) -> dict[str, Any] | None:
    return next((o for o in resolution.offers if o["remedy"] == remedy), None)
