"""Rendering customer emails from templates/emails/ and assembling the MIME message."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.fulfilments.models import Shipment
from app.notifications import branding, custom
from app.notifications.models import Notification
from app.orders.models import Customer, Order
from app.shops.models import Shop
from app.status import carrier_links, journey, tokens
from app.templating import format_date, format_money, normalise_locale, render, translator

_WHITESPACE = re.compile(r"\s+")



@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str

    @property
    def body_digest(self) -> str:
        # What was sent, provable later: the digest of both parts exactly as rendered.
        return hashlib.sha256((self.text + self.html).encode()).hexdigest()


def shipments_for(session: Session, order: Order) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment).where(Shipment.shop_id == order.shop_id, Shipment.order_id == order.id).order_by(Shipment.id)
        )
    )


def unsubscribe_url(order: Order) -> str:
    return tokens.status_url(order) + "/unsubscribe"


def _day(value: Any, locale: str) -> str:
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return ""
    # Noon UTC keeps the calendar day whatever zone format_date reads it in.
    return format_date(datetime.combine(day, time(12), tzinfo=UTC), locale)


def stage_facts(facts: dict[str, Any] | None, locale: str, currency: str) -> dict[str, Any]:
    """The notification's stored context (service.CONTEXT_KEYS) as the templates read it."""
    facts = facts or {}
    end = _day(facts.get("estimate_to"), locale) if facts.get("estimate_to") else ""
    start = _day(facts.get("estimate_from"), locale) if facts.get("estimate_from") and end else ""
    amount = facts.get("amount")
    return {
        "notice": {
            "reason": str(facts.get("reason") or ""),
            "estimate": {"start": start if start != end else "", "end": end} if end else None,
            "tracking_number": str(facts.get("tracking_number") or ""),
            "action": str(facts.get("action") or "") if facts.get("action") in journey.ACTIONS else "",
        },
        "resolution": {
            "status": str(facts.get("status") or "submitted"),
            "remedy": str(facts.get("remedy") or ""),
            "amount": format_money(amount, str(facts.get("currency") or currency), locale) if amount else "",
            "note": str(facts.get("note") or ""),
        },
    }


def brand_context(shop: Shop) -> dict[str, Any]:
    """How the shop's messages look (app.notifications.branding): its name, logo and colour."""
    look = branding.look(shop)
    return {"shop_name": look.name, "brand": {"colour": look.colour, "logo_url": look.logo_url}}


def email_context(
    session: Session,
    *,
    stage: str,
    locale: str,
    order: Order,
    shop: Shop,
    customer: Customer | None,
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    locale = normalise_locale(locale)
    return {
        **stage_facts(facts, locale, order.currency),
        "stage": stage,
        "locale": locale,
        "t": translator(locale),
        **brand_context(shop),
        "order_name": order.name,
        "customer_name": (customer.first_name or "").strip() if customer else "",
        "lines": [
            {"title": line.title, "variant": line.variant_title or "", "quantity": line.quantity}
            for line in order.lines
        ],
        "total": format_money(order.total_price, order.currency, locale),
        "status_url": tokens.status_url(order),
        "contact_url": tokens.status_url(order) + "/contact",
        "unsubscribe_url": unsubscribe_url(order),
        "shipments": [
            {"carrier": s.carrier or "", "tracking_number": s.tracking_number,
             # The carrier's page in the customer's language where it has one.
             "tracking_url": carrier_links.link(s.carrier, s.tracking_number, s.tracking_url, locale)}
            for s in shipments_for(session, order)
        ],
    }


def render_email(stage: str, context: dict[str, Any]) -> RenderedEmail:
    subject = _WHITESPACE.sub(" ", render(f"emails/{stage}.subject.txt", **context)).strip()
    return RenderedEmail(
        subject=subject,
        text=render(f"emails/{stage}.txt", **context).strip() + "\n",
        html=render(f"emails/{stage}.html", **context),
    )


def render_notification(
    session: Session, notification: Notification, *, order: Order, shop: Shop, customer: Customer | None
) -> RenderedEmail:
    context = email_context(
        session,
        stage=notification.stage,
        locale=notification.locale,
        order=order,
        shop=shop,
        customer=customer,
        facts=notification.context,
    )
    # Repeatable stages are stored as "<stage>:<occurrence>"; the template is the stage's.
    stage = notification.stage.partition(":")[0]
    override = custom.override_for(session, shop.id, stage, context["locale"])
    if override is not None:
        try:
            subject, text, html = custom.render_custom(override, context)
            return RenderedEmail(subject=subject, text=text, html=html)
        except custom.TemplateInvalid:
            # Validated when saved; should this order's data still break it, the customer gets
            # the built-in wording rather than nothing.
            pass
    return render_email(stage, context)


def build_message(
    rendered: RenderedEmail, *, notification: Notification, order: Order, shop: Shop, recipient: str
) -> EmailMessage:
    settings = get_settings()
    sender_address = parseaddr(settings.mail_from)[1]
    look = branding.look(shop)
    message = EmailMessage()
    # From the shop (its name, on the operator's sending domain), replies to the shop's own address.
    message["From"] = branding.sender(shop)
    message["To"] = recipient
    if look.reply_to:
        message["Reply-To"] = look.reply_to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(utcnow())
    # Stored once per notification: every retry carries the same id, so it reads as one message.
    message["Message-ID"] = notification.message_id
    unsubscribe_subject = quote(f"unsubscribe {tokens.token_for(order)}")
    message["List-Unsubscribe"] = f"<mailto:{sender_address}?subject={unsubscribe_subject}>, <{unsubscribe_url(order)}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Transactional mail: tells auto-responders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = notification.locale
    message["X-Dropguard-Stage"] = notification.stage
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
