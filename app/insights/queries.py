"""Reading the aggregates: sums by any dimension under filters, distributions, and drill-down to
the orders. Every query names the shop; none scans orders except the drill-down, which reads the
fact rows of the one slice asked for (indexed by shop, supplier and month) and is limited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from app.insights.facts import MEASURES
from app.insights.models import Aggregate, Breakdown, OrderFacts

DIMENSIONS = ("supplier", "destination", "carrier", "product", "period")
_COLUMN = {"supplier": "supplier_id", "destination": "destination", "carrier": "carrier",
           "product": "product_key", "period": "period"}
# What a drill-down can ask for: the fact that must hold on the order.
OUTCOMES = ("any", "refund", "dispute", "claim", "late", "lost", "exception", "urgent", "undelivered_promise")
DRILL_LIMIT = 200


@dataclass(frozen=True)
class Filters:
    period_from: date | None = None
    period_to: date | None = None  # inclusive: the first day of the last month
    supplier_id: int | None = None
    destination: str | None = None
    carrier: str | None = None
    product_key: str | None = None

    def conditions(self, model: Any) -> list[Any]:
        found = []
        if self.period_from is not None:
            found.append(model.period >= self.period_from)
        if self.period_to is not None:
            found.append(model.period <= self.period_to)
        for name, column in (("supplier_id", "supplier_id"), ("destination", "destination"),
                             ("carrier", "carrier"), ("product_key", "product_key")):
            value = getattr(self, name)
            if value is not None:
                found.append(getattr(model, column) == value)
        return found


def _measure(model: Any, name: str):
    return func.coalesce(func.sum(cast(model.measures[name].astext, Integer)), 0)


def totals(session: Session, shop_id: int, filters: Filters, by: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Sum of every measure, grouped by the given dimensions (none: one row)."""
    columns = [getattr(Aggregate, _COLUMN[d]).label(d) for d in by]
    query = select(*columns, *(_measure(Aggregate, m).label(m) for m in MEASURES)).where(
        Aggregate.shop_id == shop_id, *filters.conditions(Aggregate))
    if columns:
        # Rows emptied by later changes (an order moved to another supplier) form no group.
        query = query.group_by(*columns).having(_measure(Aggregate, "orders") > 0).order_by(*columns)
    rows = [dict(row._mapping) for row in session.execute(query)]
    if not by and rows and rows[0]["orders"] == 0:
        return [{m: 0 for m in MEASURES}]
    return rows


def breakdown(session: Session, shop_id: int, filters: Filters, kind: str, by: tuple[str, ...] = (),
              names: tuple[str, ...] = ("n", "cents")) -> list[dict[str, Any]]:
    """One breakdown kind summed by reason (and bucket), grouped by the given dimensions."""
    columns = [getattr(Breakdown, _COLUMN[d]).label(d) for d in by]
    query = (
        select(*columns, Breakdown.reason, Breakdown.bucket, *(_measure(Breakdown, n).label(n) for n in names))
        .where(Breakdown.shop_id == shop_id, Breakdown.kind == kind, *filters.conditions(Breakdown))
        .group_by(*columns, Breakdown.reason, Breakdown.bucket)
        .order_by(*columns, Breakdown.reason, Breakdown.bucket)
    )
    rows = [dict(row._mapping) for row in session.execute(query)]
    return [row for row in rows if any(row[n] for n in names)]


def percentile(buckets: dict[int, int], share: float) -> int | None:
    """The smallest bucket (whole days) at or below which `share` of the counts fall (nearest rank)."""
    total = sum(buckets.values())
    if total == 0:
        return None
    needed = share * total
    running = 0
    for bucket in sorted(buckets):
        running += buckets[bucket]
        if running >= needed - 1e-9:
            return bucket
    return max(buckets)


def drill(session: Session, shop_id: int, filters: Filters, *, outcome: str = "any", reason: str | None = None,
          limit: int = DRILL_LIMIT) -> list[OrderFacts]:
    """The orders behind a figure, newest first."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    query = select(OrderFacts).where(OrderFacts.shop_id == shop_id, *filters.conditions(OrderFacts))
    if outcome != "any":
        query = query.where(OrderFacts.outcomes.contains([outcome]))
    if reason:
        field = {"refund": "refund_reasons", "dispute": "dispute_reasons", "claim": "claim_reasons",
                 "urgent": "message_reasons", "any": "message_reasons"}.get(outcome)
        if field is None:
            raise ValueError(f"outcome {outcome!r} has no reasons")
        query = query.where(OrderFacts.facts[field].contains([reason]))
    return list(session.scalars(
        query.order_by(OrderFacts.period.desc(), OrderFacts.order_id.desc()).limit(limit)))
