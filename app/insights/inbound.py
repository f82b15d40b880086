"""Inbound e-mail (a customer's reply, or a new mail to the shop) through Mailgun's routes.

Mailgun's forward() posts the parsed message as a form: `timestamp`, `token` and `signature`
(hex HMAC-SHA256 of timestamp + token under the account's HTTP webhook signing key), `recipient`,
`sender`, `from`, `subject`, `body-plain`, `stripped-text` (the reply without the quoted mail) and
`Message-Id`. Like every webhook it is verified on arrival, then recorded in one transaction (inbox
row, ledger event, outbox row) and answered; a task turns it into a customer message.

Which order: the reply address first (reply+<order id>-<shop id>-<tag>@inbound domain, the tag an
HMAC so nobody can write into another order), else an order number in the subject or text whose
customer's e-mail is the sender's. Mail matching no order is recorded (chain "unknown") and kept.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.evidence import service as evidence
from app.insights import messages
from app.orders.models import Customer, Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

SOURCE = "mail:mailgun"
PROCESS_TASK = "insights.process_inbound_mail"
UNKNOWN_CHAIN = "unknown"
# Mailgun retries a forward for 8 hours with the same signed fields; older posts are refused.
MAX_AGE_SECONDS = 9 * 3600
FIELDS = ("recipient", "sender", "from", "subject", "body-plain", "stripped-text", "Message-Id", "In-Reply-To",
          "timestamp", "token")
_REPLY = re.compile(r"^reply\+(\d{1,18})-(\d{1,18})-([0-9a-f]{20})@", re.IGNORECASE)
_ORDER_NUMBER = re.compile(r"(?:#|\b(?:order|commande|pedido|bestellung|bestellnummer|n[°ºo]\.?)\s*#?\s*)(\d{3,10})\b",
                           re.IGNORECASE)


class BadMail(Exception):
    def __init__(self, status: int, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.outcome, self.detail = status, outcome, detail


def _tag(order_id: int, shop_id: int) -> str:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"dropguard.reply:{order_id}:{shop_id}".encode(), hashlib.sha256).hexdigest()[:20]


def reply_address(order: Order) -> str:
    """The Reply-To of a message about this order: mail to it comes back to this order only."""
    return f"reply+{order.id}-{order.shop_id}-{_tag(order.id, order.shop_id)}@{get_settings().inbound_mail_domain}"


def sign(timestamp: str, token: str, key: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify(fields: dict[str, str], key: str, *, now: float | None = None) -> str | None:
    """None when the post is Mailgun's and fresh; otherwise why not."""
    timestamp, token, signature = fields.get("timestamp", ""), fields.get("token", ""), fields.get("signature", "")
    if not (timestamp.isdigit() and token and signature):
        return "missing timestamp, token or signature"
    if not hmac.compare_digest(sign(timestamp, token, key), signature.lower()):
        return "signature does not match"
    if abs((now or time.time()) - int(timestamp)) > MAX_AGE_SECONDS:
        return "timestamp too old"
    return None


@dataclass(frozen=True)
class Matched:
    shop: Shop | None
    order: Order | None
    how: str  # reply_address | order_number | none


def _by_reply_address(session: Session, recipient: str) -> Matched | None:
    found = _REPLY.match(recipient.strip())
    if not found:
        return None
    order_id, shop_id, tag = int(found.group(1)), int(found.group(2)), found.group(3).lower()
    if not hmac.compare_digest(tag, _tag(order_id, shop_id)):
        return None
    order = session.scalar(select(Order).where(Order.id == order_id, Order.shop_id == shop_id))
    return Matched(session.get(Shop, shop_id), order, "reply_address") if order else None


def _by_order_number(session: Session, sender: str, text: str) -> Matched | None:
    """An order number mentioned in the mail, of an order whose customer wrote from this address."""
    address = parseaddr(sender)[1].strip().lower()
    numbers = list(dict.fromkeys(_ORDER_NUMBER.findall(text)))[:5]
    if not address or not numbers:
        return None
    names = [f"#{n}" for n in numbers] + numbers
    rows = session.execute(
        select(Order, Shop).join(Customer, Customer.id == Order.customer_id).join(Shop, Shop.id == Order.shop_id)
        .where(func.lower(Customer.email) == address, Order.name.in_(names), Shop.status == "installed")
        .limit(2)
    ).all()
    if len(rows) != 1:
        return None  # none, or the same number at two shops: not guessed
    order, shop = rows[0]
    return Matched(shop, order, "order_number")


def match(session: Session, fields: dict[str, str]) -> Matched:
    text = " ".join(fields.get(name, "") for name in ("subject", "stripped-text", "body-plain"))
    return (_by_reply_address(session, fields.get("recipient", ""))
            or _by_order_number(session, fields.get("from") or fields.get("sender", ""), text)
            or Matched(None, None, "none"))


def parse(form: dict[str, Any]) -> dict[str, str]:
    """The fields we keep, as text; refuses a post that is not a parsed message."""
    fields = {name: str(form[name]) for name in (*FIELDS, "signature") if isinstance(form.get(name), str)}
    if not fields.get("recipient") or not (fields.get("sender") or fields.get("from")):
        raise BadMail(400, "bad_mail", "recipient and sender are required")
    if not (fields.get("stripped-text") or fields.get("body-plain") or fields.get("subject")):
        raise BadMail(400, "bad_mail", "the mail has no text")
    if any("\x00" in value for value in fields.values()):
        raise BadMail(400, "bad_mail", "the mail contains NUL characters")
    return fields


def record_delivery(session: Session, fields: dict[str, str]) -> tuple[int | None, str]:
    """Inbox row, ledger event and outbox row in the caller's transaction; a resent post is a no-op."""
    matched = match(session, fields)
    if matched.order is not None:  # the same lock order as every ledger writer for this order
        session.execute(select(Order.id).where(Order.id == matched.order.id).with_for_update(key_share=True))
    domain = matched.shop.domain if matched.shop else UNKNOWN_CHAIN
    status = "queued" if matched.order else "unknown_order"
    event_id = (fields.get("Message-Id") or f"token:{fields.get('token', '')}")[:255]
    kept = {k: v for k, v in fields.items() if k != "signature"}
    delivery_id = session.scalar(
        insert(WebhookDelivery)
        .values(source=SOURCE, shop_domain=domain, shop_id=matched.shop.id if matched.shop else None,
                topic="inbound_mail", event_id=event_id, triggered_at=_sent_at(fields), payload=kept, status=status)
        .on_conflict_do_nothing(index_elements=["source", "shop_domain", "event_id"])
        .returning(WebhookDelivery.id)
    )
    if delivery_id is None:
        return None, "duplicate"
    body = fields.get("stripped-text") or fields.get("body-plain") or ""
    evidence.record(
        session, chain=domain, shop_id=matched.shop.id if matched.shop else None,
        order_id=matched.order.id if matched.order else None, kind="mail.received", source="mailgun",
        occurred_at=_sent_at(fields) or utcnow(),
        data={"delivery_id": delivery_id, "matched_by": matched.how, "signature": "verified",
              "body_sha256": hashlib.sha256(body.encode()).hexdigest(), "delivery_status": status},
        personal={"from": fields.get("from") or fields.get("sender"), "subject": fields.get("subject"), "body": body},
        webhook_delivery_id=delivery_id,
    )
    if status == "queued":
        enqueue(session, PROCESS_TASK, delivery_id)
    session.flush()
    return delivery_id, status


def _sent_at(fields: dict[str, str]) -> datetime | None:
    stamp = fields.get("timestamp", "")
    return datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else None


def process_delivery(session: Session, delivery_id: int) -> str:
    """The recorded mail becomes a customer message of its order (classified next). Safe twice."""
    delivery = session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(key_share=True))
    if delivery is None or delivery.source != SOURCE or delivery.status != "queued":
        return "skipped"
    fields = delivery.payload
    matched = match(session, fields)
    if matched.order is None:
        delivery.status, delivery.processed_at = "unknown_order", utcnow()
        return "unknown_order"
    body = fields.get("stripped-text") or fields.get("body-plain") or fields.get("subject") or ""
    messages.record(session, matched.shop, source="email", source_ref=delivery.event_id, body=body,
                    subject=fields.get("subject"), order_id=matched.order.id,
                    received_at=delivery.triggered_at or delivery.received_at)
    delivery.status, delivery.processed_at = "processed", utcnow()
    session.flush()
    return "processed"
