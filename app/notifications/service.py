"""Customer emails: scheduling (at most one per order, stage and channel) and the steps of a send.

Statuses: pending -> sending (claimed, attempt committed) -> sent; back to pending after a transient
error; failed after the last retry or a permanent refusal; skipped when there is nobody to write to
(no email address, redacted customer, unsubscribed). Every step is an evidence event.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.insights.refresh import order_changed
from app.notifications import channels, quiet, rendering
from app.notifications.models import Notification
from app.notifications.stages import CONTEXT_KEYS, REPEATABLE, STAGES, base_stage, clean_context
from app.orders.models import Customer, Order
from app.outbox.service import enqueue
from app.shops import guard
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.templating import normalise_locale

# Re-exported: callers know these as app.notifications.service.*.
__all__ = ["CONTEXT_KEYS", "STAGES", "base_stage", "clean_context", "schedule"]
EMAIL = channels.EMAIL
SMS = channels.SMS
SEND_TASK = "notifications.send"
# A claimed send not finished within this time is presumed dead (worker killed mid-SMTP) and may be
# claimed again; it must outlive the SMTP timeouts of one attempt.
SENDING_LEASE = timedelta(seconds=120)
UNSUBSCRIBED = "notification.unsubscribed"
_EMAIL_ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"'@]+")


@dataclass(frozen=True)
class Outgoing:
    """A claimed send: the finished message and what the ledger will say about it."""

    notification_id: int
    stage: str
    recipient: str
    message: EmailMessage | None
    subject: str
    body_digest: str
    message_id: str
    channel: str = "email"
    # The SMS text (None for email).
    text: str | None = None
    # The previous attempt died mid-send: ask the provider before sending again (where it can tell).
    interrupted: bool = False


@dataclass(frozen=True)
class Busy:
    """Another worker holds the send; retry when its lease runs out."""

    retry_in: float


def message_id_for(unique: str) -> str:
    host = urlsplit(get_settings().public_base).hostname or "dropguard.local"
    return f"<dg.{unique}@{host}>"


def without_addresses(text: str) -> str:
    """SMTP replies quote addresses; error text goes into the ledger's non-personal part."""
    return _EMAIL_ADDRESS.sub("<address>", text)[:1000]


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise LookupError(f"shop {shop_id} does not exist")
    return shop


def _customer(session: Session, order: Order) -> Customer | None:
    return session.get(Customer, order.customer_id) if order.customer_id else None


def is_unsubscribed(session: Session, order: Order) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    EvidenceEvent.shop_id == order.shop_id,
                    EvidenceEvent.order_id == order.id,
                    EvidenceEvent.kind == UNSUBSCRIBED,
                )
            )
        )
    )


def _skip_reason(session: Session, order: Order, customer: Customer | None) -> str | None:
    if customer is None or not customer.email:
        return "customer_redacted" if customer is not None and customer.redacted_at else "no_customer_email"
    if is_unsubscribed(session, order):
        return "unsubscribed"
    return None


def _record(session: Session, shop: Shop, order_id: int, kind: str, data: dict, recipient: str | None = None):
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=order_id,
        kind=kind,
        source="dropguard",
        data=data,
        personal={"recipient": recipient} if recipient else None,
    )
    order_changed(session, order_id)  # a delay message sent early or late (notification effect)


def schedule(
    session: Session,
    order: Order,
    *,
    stage: str,
    context: dict[str, Any] | None = None,
    occurrence: str | None = None,
) -> Notification | None:
    """Queue the stage's email once; a second call for the same order and stage changes nothing.

    context: the stage's facts (see CONTEXT_KEYS), e.g. a delay's new delivery estimate.
    occurrence: for REPEATABLE stages, what makes this message distinct (once per occurrence).
    Returns the notification, or None when it is skipped (nobody to write to).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown notification stage {stage!r}; known: {', '.join(STAGES)}")
    if occurrence is not None:
        if stage not in REPEATABLE:
            raise ValueError(f"stage {stage!r} is sent at most once per order")
        stage = f"{stage}:{occurrence}"[:64]
    context = clean_context(context)
    customer = _customer(session, order)
    shop = _shop(session, order.shop_id)
    wanted = [EMAIL]
    if channels.sms_enabled(shop) and channels.phone_for(session, order, customer):
        wanted.append(SMS)
    due_at, zone = quiet.deferral(session, order, shop)
    created = [
        _schedule_one(session, shop, order, customer, stage=stage, channel=channel, context=context, due_at=due_at,
                      zone=zone)
        for channel in wanted
    ]
    return created[0]


def _schedule_one(
    session: Session,
    shop: Shop,
    order: Order,
    customer: Customer | None,
    *,
    stage: str,
    channel: str,
    context: dict[str, Any],
    due_at: datetime | None,
    zone: str,
) -> Notification | None:
    reason = _skip_reason(session, order, customer)
    # Their checkout language when the shop writes in it, else the shop's first (Settings).
    locale = normalise_locale(shop_settings.customer_language(shop, order.locale or (customer.locale if customer else None)))
    message_id = message_id_for(uuid.uuid4().hex)
    why = "quiet_hours"
    waiting = _earlier_deferral(session, order.id, channel)
    if waiting is not None and (due_at is None or waiting > due_at):
        # An earlier message of this order is held until then: this one keeps its place behind it
        # ("shipped" never before "confirmed", even when quiet hours ended in between).
        due_at, why = waiting, "after_earlier_message"
    status = "skipped" if reason else ("deferred" if due_at else "pending")
    new_id = session.scalar(
        insert(Notification)
        .values(
            shop_id=order.shop_id,
            order_id=order.id,
            customer_id=customer.id if customer else None,
            channel=channel,
            stage=stage,
            locale=locale,
            status=status,
            message_id=message_id,
            last_error=reason,
            attempts=0,
            context=context,
            due_at=due_at,
        )
        .on_conflict_do_nothing(index_elements=["order_id", "stage", "channel"])
        .returning(Notification.id)
    )
    if new_id is None:
        existing = session.scalar(
            select(Notification).where(
                Notification.order_id == order.id, Notification.stage == stage, Notification.channel == channel
            )
        )
        return existing if existing is not None and existing.status != "skipped" else None
    facts = {"notification_id": new_id, "stage": stage, "channel": channel}
    if reason:
        _record(session, shop, order.id, "notification.skipped", {**facts, "reason": reason})
        return None
    recipient = customer.email if channel == EMAIL else channels.phone_for(session, order, customer)
    _record(
        session,
        shop,
        order.id,
        "notification.queued",
        {**facts, "locale": locale, "message_id": message_id},
        recipient=recipient,
    )
    if due_at:
        _record(
            session,
            shop,
            order.id,
            "notification.deferred",
            {**facts, "due_at": due_at.isoformat(), "time_zone": zone, "why": why},
        )
    else:
        enqueue(session, SEND_TASK, new_id)
    return session.get(Notification, new_id)


# Statuses of a message that has not gone yet and may still go: a later one waits behind it.
_UNSENT = ("deferred", "pending", "sending")
# How soon a message held behind an earlier one being sent looks again.
BEHIND_RETRY_SECONDS = 10.0
# An earlier message still unsent after this long (its SMTP retries take about 20 minutes) is not
# waited for any more: order is kept for messages on their way, not behind one that is stuck.
BEHIND_AT_MOST = timedelta(minutes=30)


def _earlier_deferral(session: Session, order_id: int, channel: str) -> datetime | None:
    """The latest release time of this order's messages on this channel still held back."""
    return session.scalar(
        select(func.max(Notification.due_at)).where(
            Notification.order_id == order_id, Notification.channel == channel, Notification.status == "deferred"
        )
    )


def _earlier_unsent(session: Session, notification: Notification, now: datetime) -> Notification | None:
    """The first earlier message of the same order and channel that has not gone yet.

    Messages of one order go out in the order they were scheduled, which is the order things
    happened to the order (confirmed, preparing, shipped, out for delivery, delivered). A deferred
    one is always waited for (it has its time); one pending or sending only while it is recent."""
    return session.scalar(
        select(Notification)
        .where(Notification.order_id == notification.order_id, Notification.channel == notification.channel,
               Notification.id < notification.id, Notification.status.in_(_UNSENT),
               (Notification.status == "deferred") | (Notification.updated_at > now - BEHIND_AT_MOST))
        .order_by(Notification.id)
        .limit(1)
    )


def _lock(session: Session, notification_id: int) -> Notification | None:
    return session.scalar(
        select(Notification).where(Notification.id == notification_id).with_for_update()
    )


def claim(session: Session, notification_id: int, *, now: datetime | None = None) -> Outgoing | Busy | str:
    """Lock the row and, if it still needs sending, render it and record the attempt.

    The caller commits before talking to SMTP, so the attempt is on record even if the process
    dies mid-send. Returns the message to send, Busy, or the status that makes sending pointless.
    """
    now = now or utcnow()
    notification = _lock(session, notification_id)
    if notification is None:
        return "missing"
    if notification.status in ("sent", "failed", "skipped", "deferred"):
        return notification.status
    interrupted = notification.status == "sending"
    if interrupted and notification.updated_at > now - SENDING_LEASE:
        return Busy(retry_in=(notification.updated_at + SENDING_LEASE - now).total_seconds() + 1)
    earlier = _earlier_unsent(session, notification, now)
    if earlier is not None and not interrupted:
        if earlier.status == "deferred" and earlier.due_at is not None:
            # Held back behind a message that waits for the customer's morning: wait with it.
            notification.status, notification.due_at = "deferred", earlier.due_at
            _record(session, _shop(session, notification.shop_id), notification.order_id, "notification.deferred",
                    {"notification_id": notification.id, "stage": notification.stage, "channel": notification.channel,
                     "due_at": earlier.due_at.isoformat(), "why": "after_earlier_message",
                     "earlier_notification_id": earlier.id})
            session.flush()
            return "deferred"
        return Busy(retry_in=BEHIND_RETRY_SECONDS)
    order = session.get(Order, notification.order_id)
    shop = _shop(session, notification.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "notification", notification.id, order_id=order.id,
                                            data={"stage": notification.stage, "channel": notification.channel}):
        notification.status, notification.last_error = "skipped", skipped
        return skipped
    customer = _customer(session, order)
    facts = {"notification_id": notification.id, "stage": notification.stage, "channel": notification.channel}
    reason = _skip_reason(session, order, customer)
    sms = notification.channel == SMS
    recipient = channels.phone_for(session, order, customer) if sms else (customer.email if customer else None)
    if sms and not reason and recipient is None:
        reason = "no_customer_phone"
    if reason:
        notification.status, notification.last_error = "skipped", reason
        _record(session, shop, order.id, "notification.skipped", {**facts, "reason": reason})
        session.flush()
        return "skipped"
    rendered = rendering.render_notification(session, notification, order=order, shop=shop, customer=customer)
    message, text, digest = None, None, rendered.body_digest
    if sms:
        text = channels.sms_text(rendering.branding.look(shop).name, rendered.subject, rendering.tokens.status_url(order))
        digest = hashlib.sha256(text.encode()).hexdigest()
    else:
        message = rendering.build_message(rendered, notification=notification, order=order, shop=shop,
                                          recipient=recipient)
    notification.status = "sending"
    notification.attempts += 1
    notification.subject, notification.body_digest = rendered.subject, digest
    _record(
        session,
        shop,
        order.id,
        "notification.attempt",
        {
            **facts,
            "attempt": notification.attempts,
            "message_id": notification.message_id,
            "body_digest": digest,
            # A resend after a crash mid-SMTP may deliver twice; the same Message-ID lets the
            # receiving side (and a dispute reviewer) recognise it as one message.
            "after_interrupted_attempt": interrupted,
        },
        recipient=recipient,
    )
    session.flush()
    return Outgoing(
        notification_id=notification.id,
        stage=notification.stage,
        recipient=recipient,
        message=message,
        subject=rendered.subject,
        body_digest=digest,
        message_id=notification.message_id,
        channel=notification.channel,
        text=text,
        interrupted=interrupted,
    )


def mark_sent(session: Session, outgoing: Outgoing, *, smtp_response: str) -> None:
    notification = _lock(session, outgoing.notification_id)
    if notification is None or notification.status == "sent":
        return
    notification.status, notification.sent_at, notification.last_error = "sent", utcnow(), None
    notification.subject, notification.body_digest = outgoing.subject, outgoing.body_digest
    notification.provider_ref = without_addresses(smtp_response)[:255]
    _record(
        session,
        _shop(session, notification.shop_id),
        notification.order_id,
        "notification.sent",
        {
            "notification_id": notification.id,
            "stage": notification.stage,
            "channel": notification.channel,
            "subject": outgoing.subject,
            "body_digest": outgoing.body_digest,
            "message_id": outgoing.message_id,
            "smtp_response": without_addresses(smtp_response),
            "attempts": notification.attempts,
        },
        recipient=outgoing.recipient,
    )
    session.flush()


def record_error(session: Session, notification_id: int, *, error: str, final: bool) -> str:
    """After a failed attempt: back to pending for a retry, or failed for good. Returns the status."""
    notification = _lock(session, notification_id)
    if notification is None or notification.status in ("sent", "skipped"):
        return notification.status if notification else "missing"
    shop = _shop(session, notification.shop_id)
    error = without_addresses(error)
    facts = {"notification_id": notification.id, "stage": notification.stage, "channel": notification.channel}
    notification.last_error = error
    _record(
        session,
        shop,
        notification.order_id,
        "notification.attempt_failed",
        {**facts, "attempt": notification.attempts, "error": error, "will_retry": not final},
    )
    if final:
        notification.status = "failed"
        _record(
            session,
            shop,
            notification.order_id,
            "notification.failed",
            {**facts, "attempts": notification.attempts, "error": error},
        )
    else:
        notification.status = "pending"
    session.flush()
    return notification.status


def unsubscribe(session: Session, order: Order, *, ip: str | None, user_agent: str | None) -> bool:
    """Stop emails about this order (RFC 8058 one-click or the page's button). True if it was new."""
    if is_unsubscribed(session, order):
        return False
    shop = _shop(session, order.shop_id)
    pending = session.scalars(
        select(Notification)
        .where(Notification.order_id == order.id, Notification.status == "pending")
        .with_for_update()
    ).all()
    for notification in pending:
        notification.status, notification.last_error = "skipped", "unsubscribed"
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=order.id,
        kind=UNSUBSCRIBED,
        source="customer",
        data={"channel": EMAIL, "pending_cancelled": [n.id for n in pending]},
        personal={"ip": ip, "user_agent": user_agent},
    )
    session.flush()
    return True


def for_order(session: Session, order: Order) -> list[Notification]:
    return list(
        session.scalars(select(Notification).where(Notification.order_id == order.id).order_by(Notification.id))
    )
