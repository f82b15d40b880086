"""Channels a notification can go out on: email (SMTP) and SMS (Twilio-shaped API).

Each channel renders from the same stage templates: an SMS is the email's subject and the status
link, in the customer's language. SMS goes only to shops that turned it on
(shops.settings["notifications"]["sms"] is true) and customers with a valid phone number.
"""

from __future__ import annotations

import phonenumbers
from sqlalchemy.orm import Session

from app.notifications import mailer, sms
from app.orders.models import Customer, DeliveryAddress, Order
from app.shops.models import Shop

EMAIL = "email"
SMS = "sms"
SMS_MAX = 320


def sms_enabled(shop: Shop) -> bool:
    settings = (shop.settings or {}).get("notifications") or {}
    return isinstance(settings, dict) and settings.get("sms") is True


def e164(raw: str | None, country: str | None) -> str | None:
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_for(session: Session, order: Order, customer: Customer | None) -> str | None:
    address = session.get(DeliveryAddress, order.id)
    country = address.country_code if address else None
    return e164(customer.phone if customer else None, country) or e164(address.phone if address else None, country)


def sms_text(shop_name: str, subject: str, status_url: str) -> str:
    text = f"{shop_name}: {subject} {status_url}"
    return text if len(text) <= SMS_MAX else f"{subject[: SMS_MAX - len(status_url) - 2]}… {status_url}"


def deliver(channel: str, *, recipient: str, email=None, text: str | None = None) -> str:
    """Hand the message over; returns the provider's reference (SMTP reply or SMS SID)."""
    if channel == SMS:
        return sms.send(recipient, text or "")
    return mailer.deliver(email, recipient=recipient)


def already_sent(channel: str, *, recipient: str, text: str | None) -> str | None:
    """After an interrupted attempt: did the provider get it? (Only SMS can be asked.)"""
    if channel == SMS:
        return sms.find_sent(recipient, text or "")
    return None
