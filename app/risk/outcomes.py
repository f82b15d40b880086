"""Outcome labels from the shop's own history, kept as facts (risk_outcomes) with the source's times.

Each source below turns rows another domain keeps into facts, once (unique by source row), so
history imported or delivered late teaches as much as live traffic, and collecting again is a
no-op. The probability Dropguard shows is about `bad` outcomes: a refund of any kind (the store's,
ours, one from a cancellation) or a dispute of any kind, and a held order the merchant cancelled.
Claims, returns and released holds are facts too (features, the model page), not bad by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, String, and_, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.disputes.models import Dispute
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from app.refunds.models import Refund
from app.resolutions.models import Resolution
from app.risk.models import RiskOutcome
from app.shops.models import Shop
from app.suppliers.tables import OrderFlag

KINDS = ("refund", "dispute", "claim", "cancellation", "return", "merchant_decision")
# Outcomes that say "the customer got money back" (a refund-like loss) vs "the bank was involved".
REFUND_LIKE = ("refund", "cancellation", "merchant_decision")
REFUNDED_STATUSES = ("refunded", "partially_refunded")
REFUND_REMEDIES = ("full_refund", "partial_refund")
# Snapshots whose financial status tells when the store first showed the order refunded.
_SNAPSHOT_KINDS = ("order.snapshot_applied", "order.imported")
# Refund records of the refunds domain (issue 10) that mean money went back.
ISSUED_REFUND_STATUSES = ("issued", "confirmed")


@dataclass(frozen=True)
class Collected:
    inserted: int
    decisions: int


def _columns():
    return ["shop_id", "order_id", "kind", "reason", "bad", "occurred_at", "source_ref", "amount", "exact_time"]


def _ref(prefix: str, column) -> object:
    return func.concat(literal(prefix + ":"), cast(column, String))


def _sources(shop: Shop) -> list:
    """One SELECT per source, each giving the columns of _columns()."""
    sid = shop.id
    money = cast(None, RiskOutcome.amount.type)
    refunded = Order.financial_status.in_(REFUNDED_STATUSES)
    sources = [
        # Disputes of any type (chargebacks and inquiries), at the bank's own time.
        select(literal(sid), Dispute.order_id, literal("dispute"), Dispute.reason, literal(True),
               func.coalesce(Dispute.opened_at, Dispute.created_at), _ref("dispute", Dispute.id), Dispute.amount,
               Dispute.opened_at.is_not(None))
        .where(Dispute.shop_id == sid, Dispute.order_id.is_not(None)),
        # The store's own word on an order: the first snapshot that showed it (partly) refunded.
        select(literal(sid), EvidenceEvent.order_id, literal("refund"), literal("store_status", String),
               literal(True), func.min(EvidenceEvent.occurred_at), _ref("order_refunded", EvidenceEvent.order_id),
               money, literal(True))
        .where(EvidenceEvent.chain == shop.domain, EvidenceEvent.kind.in_(_SNAPSHOT_KINDS),
               EvidenceEvent.order_id.is_not(None),
               EvidenceEvent.data["financial_status"].astext.in_(REFUNDED_STATUSES))
        .group_by(EvidenceEvent.order_id),
        # Claims customers reported (why, when), and the refunds our resolution centre carried out.
        select(literal(sid), Resolution.order_id, literal("claim"), Resolution.reason, literal(False),
               Resolution.created_at, _ref("claim", Resolution.id), money, literal(True))
        .where(Resolution.shop_id == sid),
        select(literal(sid), Resolution.order_id, literal("refund"), Resolution.reason, literal(True),
               func.coalesce(Resolution.resolved_at, Resolution.updated_at), _ref("resolution_refund", Resolution.id),
               Resolution.amount, literal(True))
        .where(Resolution.shop_id == sid, Resolution.status == "completed", Resolution.remedy.in_(REFUND_REMEDIES)),
        # Returns: the customer was asked to send the goods back first.
        select(literal(sid), EvidenceEvent.order_id, literal("return"),
               literal("return_first", String), literal(False), EvidenceEvent.occurred_at,
               _ref("return", EvidenceEvent.data["resolution_id"].astext), money, literal(True))
        .where(EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "resolution.awaiting_return",
               EvidenceEvent.order_id.is_not(None)),
        # Cancellations; bad when the money went back with them.
        select(literal(sid), Order.id, literal("cancellation"), literal(None, String), cast(refunded, Boolean),
               Order.cancelled_at, _ref("cancel", Order.id), money, literal(True))
        .where(Order.shop_id == sid, Order.cancelled_at.is_not(None)),
    ]
    sources.append(_refund_records(sid))
    return sources


def _refund_records(shop_id: int):
    return (
        select(literal(shop_id), Refund.order_id, literal("refund"), Refund.reason, literal(True),
               Refund.refunded_at, _ref("refund", Refund.id), Refund.amount, literal(True))
        .where(Refund.shop_id == shop_id, Refund.status.in_(ISSUED_REFUND_STATUSES),
               Refund.refunded_at.is_not(None))
    )


def _decisions(shop: Shop):
    """Merchant decisions on orders held for risk: released (not bad), or cancelled while held."""
    held = and_(OrderFlag.shop_id == shop.id, OrderFlag.kind == "review",
                OrderFlag.data["risk_score"].astext.is_not(None))
    released = (
        select(literal(shop.id), OrderFlag.order_id, literal("merchant_decision"), literal("released"),
               literal(False), OrderFlag.resolved_at, _ref("flag", OrderFlag.id), cast(None, RiskOutcome.amount.type), literal(True))
        .join(Order, Order.id == OrderFlag.order_id)
        .where(held, OrderFlag.resolved_at.is_not(None), Order.cancelled_at.is_(None))
    )
    cancelled = (
        select(literal(shop.id), OrderFlag.order_id, literal("merchant_decision"), literal("cancelled_after_hold"),
               literal(True), Order.cancelled_at, _ref("flag_cancel", OrderFlag.id),
               cast(None, RiskOutcome.amount.type), literal(True))
        .join(Order, Order.id == OrderFlag.order_id)
        .where(held, Order.cancelled_at.is_not(None), Order.cancelled_at >= OrderFlag.created_at,
               or_(OrderFlag.resolved_at.is_(None), OrderFlag.resolved_at >= Order.cancelled_at))
    )
    return [released, cancelled]


def collect(session: Session, shop: Shop) -> Collected:
    """Add every outcome fact not yet kept (flushes). Merchant decisions also go to the ledger."""
    inserted = 0
    for source in _sources(shop):
        result = session.execute(
            insert(RiskOutcome).from_select(_columns(), source)
            .on_conflict_do_nothing(index_elements=["shop_id", "kind", "source_ref"])
        )
        inserted += result.rowcount or 0
    decisions = 0
    for source in _decisions(shop):
        rows = session.execute(
            insert(RiskOutcome).from_select(_columns(), source)
            .on_conflict_do_nothing(index_elements=["shop_id", "kind", "source_ref"])
            .returning(RiskOutcome.order_id, RiskOutcome.reason, RiskOutcome.occurred_at, RiskOutcome.source_ref)
        ).all()
        for order_id, reason, occurred_at, ref in rows:
            evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order_id,
                            kind="risk.merchant_decision", source="merchant", occurred_at=occurred_at,
                            data={"decision": reason, "fact": ref})
        decisions += len(rows)
    session.flush()
    return Collected(inserted=inserted + decisions, decisions=decisions)


@dataclass(frozen=True)
class OrderOutcome:
    first_bad_at: datetime | None
    refunded_at: datetime | None
    disputed_at: datetime | None
    # A bad outcome whose source gave no time: it counts as a label whatever its (learned) time.
    untimed_bad: bool = False


def by_order(session: Session, shop_id: int) -> dict[int, OrderOutcome]:
    """Per order: when its first bad outcome, its first refund-like loss and its first dispute
    happened (orders without any bad outcome are absent)."""
    rows = session.execute(
        select(
            RiskOutcome.order_id,
            func.min(RiskOutcome.occurred_at),
            func.min(RiskOutcome.occurred_at).filter(RiskOutcome.kind.in_(REFUND_LIKE)),
            func.min(RiskOutcome.occurred_at).filter(RiskOutcome.kind == "dispute"),
            func.bool_or(RiskOutcome.exact_time.is_(False)),
        )
        .where(RiskOutcome.shop_id == shop_id, RiskOutcome.bad.is_(True))
        .group_by(RiskOutcome.order_id)
    ).all()
    return {order_id: OrderOutcome(first, refunded, disputed, bool(untimed))
            for order_id, first, refunded, disputed, untimed in rows}


def summary(session: Session, shop_id: int) -> dict[str, int]:
    """Facts kept per kind (the model page)."""
    rows = session.execute(
        select(RiskOutcome.kind, func.count()).where(RiskOutcome.shop_id == shop_id).group_by(RiskOutcome.kind)
    ).all()
    return {kind: count for kind, count in rows}
