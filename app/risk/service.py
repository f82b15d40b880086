"""Scoring an order now: its features, the shop's active model, the level, the reasons, the stored
score, its ledger event and its risk card; and what the ordering policy asks ("hold above risk")."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.orders.models import Order
from app.outbox.service import enqueue
from app.risk import history, reasons, training
from app.risk.features import FEATURES, OrderFacts, base_rate, vector
from app.risk.models import RiskScore, RiskSignal
from app.risk.scoring import Model, model_for
from app.shops.models import Shop

log = logging.getLogger(__name__)

RESCORE_TASK = "risk.rescore_order"
PUBLISH_TASK = "risk.publish_card"
LEVELS = ("low", "medium", "high")
# Orders that can still be acted on (held, verified, shipped faster): the ones re-scored.
OPEN_STATUSES = ("open", "paid", "supplier_ordered", "shipped")


def level_of(probability: float) -> str:
    settings = get_settings()
    if probability >= settings.risk_high_at:
        return "high"
    return "medium" if probability >= settings.risk_medium_at else "low"


def _params(order: OrderFacts, x: list[float], counts: history.LiveCounts) -> dict[str, dict[str, Any]]:
    """What the reasons' phrases quote (non-personal: countries, counts, ratios)."""
    values = dict(zip(FEATURES, x, strict=True))
    facts = order.facts or {}
    _, refunded, disputed = counts.customer(order.customer_id)
    country = order.destination or "?"
    return {
        "destination_rate": {"country": country},
        "country_mismatch": {"country": country, "billing_country": facts.get("billing_country") or "?"},
        "ip_mismatch": {"country": country, "ip_country": facts.get("ip_country") or "?"},
        "value_vs_median": {"ratio": f"{2 ** values['value_vs_median']:.1f}"},
        "quantity": {"quantity": order.quantity},
        "prior_refunds": {"count": refunded},
        "prior_disputes": {"count": disputed},
        "email_digits": {"digits": int(facts.get("email_digits") or 0)},
        "carrier_rate": {"carrier": order.carrier[0] if order.carrier else "?"},
    }


def _digest(model: Model, level: str, top: list[dict[str, Any]]) -> str:
    basis = {"model": model.version, "level": level, "reasons": [r["key"] for r in top]}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Computed:
    probability: float
    level: str
    reasons: list[dict[str, Any]]
    lowering: list[dict[str, Any]]
    features: dict[str, float]
    model: Model
    digest: str
    previous_digest: str | None


def compute(session: Session, order: Order, *, at: datetime | None = None) -> Computed | None:
    """The order's score now, without storing it; None for an order with no risk signals (one
    whose customer was redacted before it was first seen)."""
    at = at or utcnow()
    live = history.load_live(session, order.shop_id, order.id, at)
    if live is None:
        return None
    facts, counts = live.facts, live.counts
    x = vector(facts, at, counts)
    model = model_for(session, live.active_model)
    scored = model.score(x, base_rate(counts))
    probability = round(scored.probability, 4)
    level = level_of(probability)
    params = _params(facts, x, counts)
    top = reasons.top(scored.contributions, params)
    return Computed(probability=probability, level=level, reasons=top,
                    lowering=reasons.lowering(scored.contributions, params),
                    features={name: round(v, 4) for name, v in zip(FEATURES, x, strict=True)},
                    model=model, digest=_digest(model, level, top), previous_digest=live.previous_digest)


_INSERT = insert(RiskScore.__table__)
# Built once: the paid path runs it for every order (see bench/risk).
_UPSERT = _INSERT.on_conflict_do_update(
    index_elements=["order_id"],
    set_={column.name: _INSERT.excluded[column.name] for column in RiskScore.__table__.columns
          if column.name != "order_id"},
)


def score_order(session: Session, order: Order, *, trigger: str, at: datetime | None = None) -> RiskScore | None:
    """Score the order and keep the score (flushes). A changed score (model, level or reasons) is
    recorded in the ledger and gets its risk card; an unchanged one only refreshes its time."""
    computed = compute(session, order, at=at)
    if computed is None:
        return None
    now = utcnow()
    model = computed.model
    previous = computed.previous_digest
    values = {
        "order_id": order.id, "shop_id": order.shop_id, "probability": computed.probability,
        # What raised the risk (strongest first), then what lowered it (negative weights).
        "level": computed.level, "reasons": computed.reasons + computed.lowering, "features": computed.features,
        "model_kind": model.kind, "model_version": model.version, "model_id": model.model_id,
        "trained_at": model.trained_at, "trigger": trigger[:48], "digest": computed.digest, "scored_at": now,
    }
    session.execute(_UPSERT, values)
    score = RiskScore(**values)  # what was stored (the caller reads it; the row is the source)
    if previous != computed.digest:
        shop = session.get(Shop, order.shop_id)
        evidence.record(
            session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="risk.scored", source="dropguard",
            data={"order": order.name, "probability": computed.probability, "level": computed.level,
                  "reasons": [{"key": r["key"], "weight": r["weight"]} for r in computed.reasons],
                  "model": {"kind": model.kind, "version": model.version}, "trigger": trigger[:48],
                  "previous_digest": previous, "digest": computed.digest},
        )
        # Shopify refuses new assessments on fulfilled orders (ORDER_ALREADY_FULFILLED).
        if can_publish(shop) and order.fulfillment_status != "fulfilled":
            enqueue(session, PUBLISH_TASK, order.id, computed.digest)
    session.flush()
    return score


@dataclass(frozen=True)
class PaidScore:
    score: RiskScore | None
    failed: bool


def score_paid(session: Session, order: Order) -> PaidScore:
    """The paid path's score. Scoring must never stop an order from being placed: a failure is
    logged and recorded ("risk.score_failed") and rolled back to a savepoint, and the caller
    decides (the review policy holds the order, see app.suppliers.ordering)."""
    try:
        with session.begin_nested():
            return PaidScore(score_order(session, order, trigger="paid"), False)
    except Exception as error:  # noqa: BLE001 - whatever broke, the order goes on
        log.exception("risk.score_failed", extra={"order_id": order.id})
        shop = session.get(Shop, order.shop_id)
        evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="risk.score_failed",
                        source="dropguard", data={"order": order.name, "error": type(error).__name__})
        return PaidScore(None, True)


def can_publish(shop: Shop) -> bool:
    """Whether the store lets us write its risk card: it needs write_orders, which only a shop
    installed through OAuth is known to have granted (shops registered by hand have no scopes)."""
    granted = {scope.strip() for scope in (shop.scopes or "").split(",")}
    return get_settings().risk_publish_cards and "write_orders" in granted


def current(session: Session, shop_id: int, order_id: int) -> RiskScore | None:
    return session.scalar(select(RiskScore).where(RiskScore.shop_id == shop_id, RiskScore.order_id == order_id)
                          .execution_options(populate_existing=True))


def rescore(session: Session, order_id: int, trigger: str) -> RiskScore | None:
    """A new event about an order (late supplier, no first scan, complaint, delay): score it again."""
    order = session.get(Order, order_id)
    if order is None or order.status == "cancelled":
        return None
    return score_order(session, order, trigger=trigger)


def view(score: RiskScore, locale: str) -> dict[str, Any]:
    """The API's `risk` object (and what pages show)."""
    raised = reasons.raising(score.reasons)
    return {
        "probability": score.probability,
        "level": score.level,
        "reasons": [reasons.phrase(r, locale) for r in raised],
        "actions": [reasons.action_phrase(a, locale) for a in reasons.actions_for(raised)],
        "model": {"kind": score.model_kind, "version": score.model_version, "trained_at": score.trained_at},
        "scored_at": score.scored_at,
    }


def hold_reason(score: RiskScore, threshold: float, locale: str) -> str:
    """The review queue's one line for an order held for risk."""
    raised = reasons.raising(score.reasons)
    why = "; ".join(reasons.phrase(r, locale) for r in raised) or reasons.phrase({"key": "none"}, locale)
    return reasons.hold_line(locale, reasons.percent(score.probability), score.level, reasons.percent(threshold), why,
                             reasons.actions_for(raised))


def rescore_open(session: Session, shop: Shop, *, trigger: str, batch: int = 500) -> int:
    """Score again every order of the shop that can still be acted on (placed within the label
    window and not cancelled or delivered); commits every `batch` orders."""
    since = utcnow() - timedelta(days=get_settings().risk_label_days)
    ids = list(session.scalars(
        select(Order.id).join(RiskSignal, RiskSignal.order_id == Order.id)
        .where(Order.shop_id == shop.id, Order.status.in_(OPEN_STATUSES), RiskSignal.placed_at >= since)
        .order_by(Order.id)))
    for start in range(0, len(ids), batch):
        for order in session.scalars(select(Order).where(Order.id.in_(ids[start:start + batch]))):
            score_order(session, order, trigger=trigger)
        session.commit()
    return len(ids)


def train_and_rescore(shop_id: int) -> training.Report:
    """Retrain one shop's model (beat and `dropguard risk train`), then re-score its open orders
    with whichever model is now active. Owns its transactions."""
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
        report = training.train(session, shop)
        session.commit()
        report.rescored = rescore_open(session, shop, trigger="train")
    return report
