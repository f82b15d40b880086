"""Refund and dispute analytics: rates and amounts by reason, supplier, product, destination,
carrier and month, and the effect of delay messages on claims and disputes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.insights import queries
from app.insights.queries import Filters
from app.suppliers.models import Supplier

DIMENSIONS = (*queries.DIMENSIONS, "reason")
NOTICE_GROUPS = ("early", "late", "none")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def labels(session: Session, shop_id: int, dimension: str, values: list[Any]) -> dict[Any, str]:
    """The names a dimension's values are shown by (supplier, product, carrier, destination …)."""
    if dimension == "supplier":
        names = dict(session.execute(select(Supplier.id, Supplier.name).where(Supplier.shop_id == shop_id)).all())
        return {v: names.get(v) or "(no supplier order)" for v in values}
    if dimension == "product":
        # One indexed look-up per product shown (its title on any of its orders), not a scan.
        titles = dict(session.execute(text(
            "SELECT k, (SELECT f.product_title FROM insights_order_facts f"
            " WHERE f.shop_id = :shop AND f.product_key = k LIMIT 1) FROM unnest(CAST(:keys AS text[])) AS k"
        ), {"shop": shop_id, "keys": list(values)}).all())
        return {v: titles.get(v) or v or "(unknown)" for v in values}
    if dimension == "period":
        return {v: v.strftime("%Y-%m") for v in values}
    return {v: v or "(unknown)" for v in values}


def by_dimension(session: Session, shop_id: int, dimension: str, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """One row per value of the dimension: orders, refund and dispute counts, rates and amounts."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    if dimension == "reason":
        return by_reason(session, shop_id, filters)
    rows = queries.totals(session, shop_id, filters, (dimension,))
    names = labels(session, shop_id, dimension, [r[dimension] for r in rows])
    result = []
    for row in rows:
        orders = row["orders"]
        result.append({
            "key": row[dimension].isoformat() if dimension == "period" else row[dimension],
            "label": names[row[dimension]], "orders": orders, "revenue_cents": row["revenue_cents"],
            "refunded": row["refunded"], "refund_rate": _rate(row["refunded"], orders), "refund_cents": row["refund_cents"],
            "disputed": row["disputed"], "dispute_rate": _rate(row["disputed"], orders),
            "dispute_cents": row["dispute_cents"],
            "claimed": row["claimed"], "claim_rate": _rate(row["claimed"], orders),
        })
    result.sort(key=lambda r: r["key"] if dimension == "period" else (-(r["refund_cents"] + r["dispute_cents"]), str(r["key"])))
    return result


def by_reason(session: Session, shop_id: int, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Refunds and disputes by their reason, with the rate over all orders in the filter."""
    orders = queries.totals(session, shop_id, filters)[0]["orders"]
    result = []
    for kind in ("refund", "dispute"):
        for row in queries.breakdown(session, shop_id, filters, kind):
            result.append({"key": f"{kind}:{row['reason']}", "kind": kind, "label": row["reason"], "orders": orders,
                           "count": row["n"], "rate": _rate(row["n"], orders), "cents": row["cents"]})
    result.sort(key=lambda r: (r["kind"], -r["cents"], r["label"]))
    return result


def notification_effect(session: Session, shop_id: int, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Delayed orders by when the customer was told (early: within 24 h of the delay being detected,
    late, or never) with their claim, dispute and refund rates."""
    found = {row["reason"]: row for row in queries.breakdown(
        session, shop_id, filters, "notice", names=("orders", "claimed", "disputed", "refunded"))}
    result = []
    for group in NOTICE_GROUPS:
        row = found.get(group, {"orders": 0, "claimed": 0, "disputed": 0, "refunded": 0})
        result.append({"group": group, "orders": row["orders"],
                       "claimed": row["claimed"], "claim_rate": _rate(row["claimed"], row["orders"]),
                       "disputed": row["disputed"], "dispute_rate": _rate(row["disputed"], row["orders"]),
                       "refunded": row["refunded"], "refund_rate": _rate(row["refunded"], row["orders"])})
    return result


def complaints(session: Session, shop_id: int, filters: Filters = Filters(), by: str | None = None) -> list[dict[str, Any]]:
    """Classified customer messages by reason (optionally per supplier or product)."""
    dims = (by,) if by else ()
    rows = queries.breakdown(session, shop_id, filters, "message", dims, names=("n", "urgent"))
    names = labels(session, shop_id, by, [r[by] for r in rows]) if by else {}
    return [{"reason": r["reason"], "messages": r["n"], "urgent": r["urgent"],
             **({by: names[r[by]]} if by else {})} for r in rows]
