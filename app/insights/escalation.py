"""What an urgent message sets off: its order goes first in the merchant's claims queue (see
messages.urgent_exists, used by app.resolutions.service.queue) and, when the shop's resolution
policy says so ("proactive_on_urgent": true), a claim is opened on the customer's behalf so the
merchant answers it before the customer goes to their bank.

The claim is opened through the resolution service like one the customer filed, with the
customer's own words, and goes to the merchant's queue; the customer is told it is being reviewed
(never that a remedy is granted). At most one open claim per order: an order that already has one
is only raised in the queue.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.insights.models import CustomerMessage
from app.orders.models import Order
from app.resolutions import policy as policies
from app.resolutions import service as resolutions
from app.shops.models import Shop

# The claim reason a complaint's reason becomes; the others (fraud claims, other) open no claim.
CLAIM_REASONS = {
    "not_received": "not_received", "late": "not_received", "damaged": "damaged",
    "not_as_described": "not_as_described", "size": "not_as_described", "wrong_item": "wrong_item",
    "changed_mind": "changed_mind",
}


def proactive(shop: Shop) -> bool:
    raw = (shop.settings or {}).get("resolutions")
    return isinstance(raw, dict) and raw.get("proactive_on_urgent") is True


def on_urgent(session: Session, shop: Shop, message: CustomerMessage, reason: str) -> str:
    """Open a claim for an urgent message when the policy asks for it; says what happened."""
    if message.order_id is None or not proactive(shop):
        return "raised"
    claim_reason = CLAIM_REASONS.get(reason)
    if claim_reason is None or claim_reason not in policies.REASONS:
        return "raised"
    order = session.get(Order, message.order_id)
    if order is None or any(r.status in resolutions.OPEN + resolutions.QUEUE for r in resolutions.for_order(session, order)):
        return "raised"
    claim = resolutions.report(session, shop, order, reason=claim_reason, message=message.body or "", photos=[],
                               photo_names=[], locale=order.locale, ip=None, user_agent=None, for_merchant=True)
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="insights.claim_opened",
                    source="dropguard", data={"message_id": message.id, "resolution_id": claim.id,
                                              "reason": claim_reason, "why": "urgent_message"})
    return "claim_opened"
