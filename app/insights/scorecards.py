"""Supplier scorecards: per supplier (and per supplier × destination), from the aggregates.

Ranking: by the money problems cost, refunds plus disputed amounts as a share of revenue, then by
on-time rate. A supplier is flagged a "problem supplier" when a rule below holds on enough orders;
each flag names its numbers and cites the orders behind it (drill-down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.insights import queries
from app.insights.queries import Filters
from app.suppliers.models import Supplier

# A flag needs this many orders of the supplier in the period; it cites up to CITED_ORDERS orders.
MIN_ORDERS = 10
CITED_ORDERS = 10
FLAG_RULES: tuple[tuple[str, str, str], ...] = (
    # flag, drill-down outcome, description of the threshold (shown to the merchant)
    ("late_sla", "late", "on-time rate against the SLA under 80 %"),
    ("lost", "lost", "more than 2 % of orders lost"),
    ("refunds", "refund", "refund rate over 1.5 × the shop's"),
    ("disputes", "dispute", "dispute rate over 1 %"),
    ("exceptions", "exception", "more than 5 % of parcels with a carrier exception"),
)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(total_minutes: int, count: int, per: int) -> float | None:
    return round(total_minutes / count / per, 2) if count else None


@dataclass
class Scorecard:
    supplier_id: int
    supplier: str
    destination: str | None
    orders: int
    confirm_hours: float | None
    ship_days: float | None
    first_scan_days: float | None
    delivery_days_mean: float | None
    delivery_days_p50: int | None
    delivery_days_p90: int | None
    on_time_rate: float | None  # against the SLA (confirm, ship and tracking all in time)
    sla_decided: int
    promise_rate: float | None  # delivered by the date the customer was given
    exception_rate: float | None
    loss_rate: float | None
    refund_rate: float | None
    refund_cents: int
    dispute_rate: float | None
    dispute_cents: int
    claim_rate: float | None
    revenue_cents: int
    cost_cents: int | None
    margin_cents: int | None  # revenue − cost − refunds − disputed amounts, over costed orders only
    problem_cost_share: float | None
    refunds_by_reason: dict[str, int] = field(default_factory=dict)
    disputes_by_reason: dict[str, int] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k not in ("flags", "refunds_by_reason", "disputes_by_reason")}
        row["flags"] = " ".join(flag["flag"] for flag in self.flags)
        return row


def _card(supplier_id: int, name: str, destination: str | None, t: dict[str, Any],
          delivery: dict[int, int], refunds: dict[str, int], disputes: dict[str, int]) -> Scorecard:
    orders = t["orders"]
    problems = t["refund_cents"] + t["dispute_cents"]
    costed_revenue_share = t["costed"] == orders and orders > 0
    return Scorecard(
        supplier_id=supplier_id, supplier=name, destination=destination, orders=orders,
        confirm_hours=_mean(t["confirm_minutes"], t["confirmed"], 60),
        ship_days=_mean(t["ship_minutes"], t["shipped"], 1440),
        first_scan_days=_mean(t["first_scan_minutes"], t["first_scanned"], 1440),
        delivery_days_mean=_mean(t["delivery_minutes"], t["delivered"], 1440),
        delivery_days_p50=queries.percentile(delivery, 0.5),
        delivery_days_p90=queries.percentile(delivery, 0.9),
        on_time_rate=_rate(t["sla_on_time"], t["sla_decided"]), sla_decided=t["sla_decided"],
        promise_rate=_rate(t["promise_on_time"], t["promise_decided"]),
        exception_rate=_rate(t["exception"], t["shipped"]),
        loss_rate=_rate(t["lost"], t["shipped"]),
        refund_rate=_rate(t["refunded"], orders), refund_cents=t["refund_cents"],
        dispute_rate=_rate(t["disputed"], orders), dispute_cents=t["dispute_cents"],
        claim_rate=_rate(t["claimed"], orders),
        revenue_cents=t["revenue_cents"],
        cost_cents=t["cost_cents"] if t["costed"] else None,
        margin_cents=(t["revenue_cents"] - t["cost_cents"] - problems) if costed_revenue_share else None,
        problem_cost_share=_rate(problems, t["revenue_cents"]),
        refunds_by_reason=refunds, disputes_by_reason=disputes,
    )


def _holds(flag: str, card: Scorecard, shop_refund_rate: float | None) -> bool:
    if card.orders < MIN_ORDERS:
        return False
    if flag == "late_sla":
        return card.sla_decided >= MIN_ORDERS and card.on_time_rate is not None and card.on_time_rate < 0.8
    if flag == "lost":
        return (card.loss_rate or 0) > 0.02
    if flag == "refunds":
        return shop_refund_rate is not None and (card.refund_rate or 0) > 1.5 * shop_refund_rate and card.refund_rate > 0
    if flag == "disputes":
        return (card.dispute_rate or 0) > 0.01
    if flag == "exceptions":
        return (card.exception_rate or 0) > 0.05
    raise ValueError(flag)


def scorecards(session: Session, shop_id: int, filters: Filters = Filters(), *,
               by_destination: bool = False, cite: bool = True) -> list[Scorecard]:
    by = ("supplier", "destination") if by_destination else ("supplier",)
    names = dict(session.execute(select(Supplier.id, Supplier.name).where(Supplier.shop_id == shop_id)).all())
    rows = queries.totals(session, shop_id, filters, by)
    delivery: dict[tuple, dict[int, int]] = {}
    for row in queries.breakdown(session, shop_id, filters, "delivery_days", by, names=("n",)):
        delivery.setdefault(tuple(row[d] for d in by), {})[row["bucket"]] = row["n"]
    reasons: dict[str, dict[tuple, dict[str, int]]] = {"refund": {}, "dispute": {}}
    for kind in reasons:
        for row in queries.breakdown(session, shop_id, filters, kind, by, names=("n",)):
            reasons[kind].setdefault(tuple(row[d] for d in by), {})[row["reason"]] = row["n"]
    shop = queries.totals(session, shop_id, filters)[0]
    shop_refund_rate = _rate(shop["refunded"], shop["orders"])
    cards = []
    for row in rows:
        key = tuple(row[d] for d in by)
        supplier_id = row["supplier"]
        name = names.get(supplier_id) or ("(no supplier order)" if supplier_id == 0 else f"supplier {supplier_id}")
        card = _card(supplier_id, name, row.get("destination") if by_destination else None, row,
                     delivery.get(key, {}), reasons["refund"].get(key, {}), reasons["dispute"].get(key, {}))
        for flag, outcome, description in FLAG_RULES:
            if supplier_id and _holds(flag, card, shop_refund_rate):
                cited = []
                if cite:
                    scope = Filters(filters.period_from, filters.period_to, supplier_id,
                                    card.destination if by_destination else filters.destination,
                                    filters.carrier, filters.product_key)
                    cited = [f.order_name for f in queries.drill(session, shop_id, scope, outcome=outcome,
                                                                 limit=CITED_ORDERS)]
                card.flags.append({"flag": flag, "outcome": outcome, "rule": description, "orders": cited})
        cards.append(card)
    cards.sort(key=lambda c: (-(c.problem_cost_share or 0), c.on_time_rate if c.on_time_rate is not None else 2,
                              c.supplier, c.destination or ""))
    return cards


def trend(session: Session, shop_id: int, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Per supplier and month: orders, on-time rate, refund, dispute and loss rates."""
    names = dict(session.execute(select(Supplier.id, Supplier.name).where(Supplier.shop_id == shop_id)).all())
    result = []
    for row in queries.totals(session, shop_id, filters, ("supplier", "period")):
        result.append({
            "supplier_id": row["supplier"], "supplier": names.get(row["supplier"], "(no supplier order)"),
            "period": row["period"], "orders": row["orders"],
            "on_time_rate": _rate(row["sla_on_time"], row["sla_decided"]),
            "refund_rate": _rate(row["refunded"], row["orders"]),
            "dispute_rate": _rate(row["disputed"], row["orders"]),
            "loss_rate": _rate(row["lost"], row["shipped"]),
        })
    return result
