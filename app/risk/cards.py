"""Dropguard's score in Shopify's own risk card (orderRiskAssessmentCreate), exactly once per score
version.

The card's facts are frozen on the RiskCard row when the score changes. Publishing follows the
exactly-once discipline (app/exactly_once.py): the advisory lock, the attempt committed before the
call, the call with no transaction open, the outcome after it. The mutation has no idempotency key
of its own, so a card whose attempt was committed but whose outcome was not (a killed worker, a
lost answer) first reads the order's assessments and adopts ours if it is there: the first fact
of every card names the score version it was written for.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.orders.models import Order
from app.risk import reasons
from app.risk.models import RiskCard
from app.shops.admin_client import AdminClient, AdminError, AdminTemporaryError
from app.shops.models import Shop
from app.templating import translate

log = logging.getLogger(__name__)

MAX_FACTS = 20  # Shopify's limit per assessment
MAX_DESCRIPTION = 256  # Shopify truncates longer descriptions
MAX_ATTEMPTS = 8
RISK_LEVELS = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH"}

CREATE = """
mutation RiskCard($input: OrderRiskAssessmentCreateInput!) {
  orderRiskAssessmentCreate(orderRiskAssessmentInput: $input) {
    orderRiskAssessment { riskLevel facts { description sentiment } }
    userErrors { field message code }
  }
}
"""
ASSESSMENTS = """
query RiskCards($id: ID!) {
  order(id: $id) { risk { assessments { riskLevel facts { description sentiment } } } }
}
"""


class CardBusy(Exception):
    """Another task is publishing this card."""


class RetryLater(Exception):
    """The store could not answer now."""


def marker(digest: str) -> str:
    return f"score {digest[:12]}"


def facts_for(shop: Shop, computed: Any) -> list[dict[str, str]]:
    """What the card says, in the shop's language: the probability and model first (with the score
    version), then what raised the risk, then what lowered it; at most 20 facts."""
    from app.risk.service import percent  # the service imports this module lazily: no cycle

    locale = shop.locale or "en"
    model = computed.model
    head = translate(locale, "risk.card.summary", probability=percent(computed.probability),
                             kind=model.kind, version=model.version, marker=marker(computed.digest))
    facts = [{"description": head, "sentiment": "NEUTRAL"}]
    facts += [{"description": reasons.phrase(r, locale), "sentiment": "NEGATIVE"} for r in computed.reasons]
    facts += [{"description": reasons.phrase(r, locale, lowers=True), "sentiment": "POSITIVE"}
              for r in computed.lowering]
    return [{**fact, "description": fact["description"][:MAX_DESCRIPTION]} for fact in facts[:MAX_FACTS]]


def _record(session: Session, shop: Shop, card: RiskCard, kind: str, data: dict[str, Any]) -> None:
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=card.order_id, kind=kind,
                    source="dropguard", data={"card_id": card.id, "digest": card.digest, "level": card.level, **data})


def _begin(card_id: int) -> tuple[str, int, str, dict[str, Any], bool] | str:
    """Lock the card and commit the attempt; returns what the call needs, or a final state."""
    with session_scope() as session:
        order, card = exactly_once.lock_with_order(session, RiskCard, card_id)
        if card is None or order is None:
            return "missing"
        if card.state in ("published", "failed"):
            return card.state
        shop = session.get(Shop, card.shop_id)
        if not shop.is_installed:
            card.state, card.last_error = "failed", "the shop is not installed"
            return "failed"
        retrying = card.state == "attempted"
        card.state, card.attempts = "attempted", card.attempts + 1
        variables = {"input": {"orderId": f"gid://shopify/Order/{order.external_id}",
                               "riskLevel": RISK_LEVELS[card.level], "facts": card.facts}}
        return shop.domain, shop.id, marker(card.digest), variables, retrying


def _already_there(client: AdminClient, order_gid: str, wanted: str) -> bool:
    data = client.query(ASSESSMENTS, {"id": order_gid})
    assessments = (((data.get("order") or {}).get("risk") or {}).get("assessments")) or []
    return any(wanted in (fact.get("description") or "") for a in assessments for fact in a.get("facts") or [])


def publish(card_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Write one card to the store, once. Owns its transactions. Raises CardBusy while another task
    holds it and RetryLater for a temporary store error."""
    with exactly_once.advisory_lock(exactly_once.RISK_CARD, card_id) as acquired:
        if not acquired:
            raise CardBusy(f"risk card {card_id} is being published by another task")
        begun = _begin(card_id)
        if isinstance(begun, str):
            return begun
        domain, shop_id, wanted, variables, retrying = begun
        adopted, error, temporary = False, None, False
        with session_scope() as session:
            shop = session.get(Shop, shop_id)
            order_id = session.get(RiskCard, card_id).order_id
        try:
            with AdminClient.for_shop(shop, transport=transport) as client:
                if retrying and _already_there(client, variables["input"]["orderId"], wanted):
                    adopted = True
                else:
                    client.mutate(CREATE, variables, order_id=order_id)
        except AdminTemporaryError as failure:  # network, 5xx, throttled: worth another try
            error, temporary = failure.message, True
        except AdminError as failure:  # refused (userErrors, token, unknown shop): final
            error = failure.message
        outcome = _finish(card_id, adopted=adopted, error=error, temporary=temporary)
    if outcome == "retry":
        raise RetryLater(error or "temporary store error")
    return outcome


def _finish(card_id: int, *, adopted: bool, error: str | None, temporary: bool) -> str:
    with session_scope() as session:
        card = session.get(RiskCard, card_id, with_for_update=True)
        shop = session.get(Shop, card.shop_id)
        if error is None:
            card.state, card.published_at, card.last_error = "published", utcnow(), None
            _record(session, shop, card, "risk.card_published", {"adopted": adopted, "attempts": card.attempts})
            return "published"
        card.last_error = error[:1000]
        if temporary and card.attempts < MAX_ATTEMPTS:
            # Left "attempted": the retry reads the order's cards first, in case this one landed.
            return "retry"
        card.state = "failed"
        _record(session, shop, card, "risk.card_failed", {"error": error[:500], "attempts": card.attempts})
    if temporary:
        log.warning("risk.card_gave_up", extra={"card_id": card_id})
    return "failed"


def for_order(session: Session, order: Order) -> list[RiskCard]:
    return list(session.scalars(select(RiskCard).where(RiskCard.order_id == order.id).order_by(RiskCard.id)))
