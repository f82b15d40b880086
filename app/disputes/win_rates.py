"""Dispute outcomes: win rate and amount recovered by reason, supplier, carrier and product.

The order's supplier, carrier and main product are read from the insights order facts (the rows
app/insights keeps for every order, the same ones its refund and dispute tables group by), and the
labels are the insights' own, so a supplier or product reads the same on both pages.

Won: the bank decided for the shop. Lost: decided against it, accepted by the merchant, or closed
by refunding the charge. Prevented disputes (stopped before any chargeback) and open ones are
counted apart: they are neither won nor lost. Amounts are summed in the shop's currency; a dispute
in another currency is counted, not summed (no exchange rate is invented).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from app.disputes.models import Dispute
from app.insights.analytics import labels as insight_labels
from app.insights.models import OrderFacts
from app.shops.models import Shop

DIMENSIONS = ("reason", "supplier", "carrier", "product")
WON = ("won",)
LOST = ("lost", "accepted", "charge_refunded")
OPEN = ("needs_response", "under_review")


def _key(dimension: str):
    if dimension == "reason":
        return func.coalesce(Dispute.reason, literal(""))
    if dimension == "supplier":
        return func.coalesce(OrderFacts.supplier_id, literal(0))
    if dimension == "carrier":
        return func.coalesce(OrderFacts.carrier, literal(""))
    return func.coalesce(OrderFacts.product_key, literal(""))


def by_dimension(session: Session, shop: Shop, dimension: str) -> list[dict[str, Any]]:
    """One row per value: disputes, won, lost, open, prevented, win rate (of decided), amounts."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    key = _key(dimension).label("key")
    summed = func.coalesce(Dispute.currency, shop.currency) == shop.currency

    def amount(condition):
        return func.coalesce(func.sum(Dispute.amount).filter(condition, summed), 0)

    rows = session.execute(
        select(key, func.count().label("disputes"),
               func.count().filter(Dispute.status.in_(WON)).label("won"),
               func.count().filter(Dispute.status.in_(LOST)).label("lost"),
               func.count().filter(Dispute.status.in_(OPEN)).label("open"),
               func.count().filter(Dispute.status == "prevented").label("prevented"),
               amount(Dispute.amount.is_not(None)).label("disputed"),
               amount(Dispute.status.in_(WON)).label("recovered"),
               amount(Dispute.status.in_(LOST)).label("lost_amount"),
               func.count().filter(~summed).label("other_currency"))
        .select_from(Dispute).outerjoin(OrderFacts, OrderFacts.order_id == Dispute.order_id)
        .where(Dispute.shop_id == shop.id).group_by(key)
    ).all()
    values = [row.key for row in rows]
    if dimension == "reason":
        labels = {v: v or "" for v in values}
    else:
        # The insights' labels take the dimension's stored value (supplier id, carrier, product key).
        labels = insight_labels(session, shop.id, dimension, values)
    result = []
    for row in rows:
        decided = row.won + row.lost
        result.append({
            "key": row.key, "label": labels.get(row.key) or "", "disputes": row.disputes, "won": row.won,
            "lost": row.lost, "open": row.open, "prevented": row.prevented,
            "win_rate": (row.won / decided) if decided else None,
            "disputed": Decimal(row.disputed), "recovered": Decimal(row.recovered),
            "lost_amount": Decimal(row.lost_amount), "other_currency": row.other_currency,
        })
    result.sort(key=lambda r: (-r["disputes"], str(r["label"])))
    return result


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same figures over every row (any dimension's rows add up to the shop's totals)."""
    won, lost = sum(r["won"] for r in rows), sum(r["lost"] for r in rows)
    return {
        "disputes": sum(r["disputes"] for r in rows), "won": won, "lost": lost,
        "open": sum(r["open"] for r in rows), "prevented": sum(r["prevented"] for r in rows),
        "win_rate": won / (won + lost) if won + lost else None,
        "recovered": sum((r["recovered"] for r in rows), Decimal(0)),
        "disputed": sum((r["disputed"] for r in rows), Decimal(0)),
        "other_currency": sum(r["other_currency"] for r in rows),
    }
