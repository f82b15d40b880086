"""Dropguard's score in Shopify's own risk card (orderRiskAssessmentCreate), exactly once per score
version.

A changed score enqueues "risk.publish_card" with the order and the score's version (its digest);
the task freezes the card's facts on a RiskCard row, unique per (order, version), unless a newer
version has replaced it meanwhile (that one has its own task: the card always shows the latest).
Publishing follows the exactly-once discipline (app/exactly_once.py): the advisory lock (per
order), the attempt committed before the call, the call with no transaction open, the outcome
after it. The mutation has no idempotency key
of its own, so a card whose attempt was committed but whose outcome was not (a killed worker, a
lost answer) first reads the order's assessments and adopts ours if it is there: the first fact
of every card names the score version it was written for.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.orders.models import Order
from app.risk import reasons
from app.risk.models import RiskCard, RiskScore
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


def facts_for(shop: Shop, score: RiskScore) -> list[dict[str, str]]:
    """What the card says, in the shop's language: the probability and model first (with the score
    version), then what raised the risk, then what lowered it; at most 20 facts."""
    locale = shop.locale or "en"
    head = translate(locale, "risk.card.summary", probability=reasons.percent(score.probability),
                     kind=score.model_kind, version=score.model_version, marker=marker(score.digest))
    facts = [{"description": head, "sentiment": "NEUTRAL"}]
    facts += [{"description": reasons.phrase(r, locale), "sentiment": "NEGATIVE"}
              for r in reasons.raising(score.reasons)]
    facts += [{"description": reasons.phrase(r, locale, lowers=True), "sentiment": "POSITIVE"}
              for r in reasons.lowered(score.reasons)]
    return [{**fact, "description": fact["description"][:MAX_DESCRIPTION]} for fact in facts[:MAX_FACTS]]


def _ensure_card(order_id: int, digest: str) -> int | None:
    """The card of this score version (frozen now if new); None when a newer version replaced it."""
    with session_scope() as session:
        card_id = session.scalar(select(RiskCard.id).where(RiskCard.order_id == order_id, RiskCard.digest == digest))
        if card_id is not None:
            return card_id
        score = session.get(RiskScore, order_id)
        if score is None or score.digest != digest:
            return None
        shop = session.get(Shop, score.shop_id)
        session.execute(insert(RiskCard).values(
            shop_id=shop.id, order_id=order_id, digest=digest, level=score.level, facts=facts_for(shop, score),
            state="pending", attempts=0).on_conflict_do_nothing(index_elements=["order_id", "digest"]))
        return session.scalar(select(RiskCard.id).where(RiskCard.order_id == order_id, RiskCard.digest == digest))


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


def publish(order_id: int, digest: str, *, transport: httpx.BaseTransport | None = None) -> str:
    """Write the card of one score version to the store, once. Owns its transactions. Raises
    CardBusy while another task publishes a card of the order, RetryLater for a temporary error."""
    with exactly_once.advisory_lock(exactly_once.RISK_CARD, order_id) as acquired:
        if not acquired:
            raise CardBusy(f"a risk card of order {order_id} is being published by another task")
        card_id = _ensure_card(order_id, digest)
        if card_id is None:
            return "superseded"
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
