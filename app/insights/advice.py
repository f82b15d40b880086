"""Refund-policy advice from the shop's own history, each recommendation with its numbers and the
one policy change (shops.settings["resolutions"], app/resolutions/policy.py) that carries it out.

- Return windows: for each reason, the number of days from delivery to the request that covers
  the chosen share of legitimate requests (claims the policy or the merchant accepted), compared
  with the window in force.
- Products whose "not as described" and "size" claims run far above the shop's rate need a
  clearer description; "changed my mind" claims above the shop's norm suggest stricter terms
  (return first).
- Remedies: disputes opened after a partial refund or store credit, against after a full refund.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.insights import analytics, queries
from app.insights.queries import Filters
from app.resolutions import policy as policies
from app.shops.models import Shop

DEFAULT_SHARE = 0.9
SHARES = (0.8, 0.9, 0.95, 0.99)
MIN_REQUESTS = 20  # legitimate requests of one reason before a window is suggested
MIN_PRODUCT_ORDERS = 10
MIN_REMEDY_CLAIMS = 20
DESCRIPTION_REASONS = ("not_as_described", "size")


class BadChange(AppError):
    code = "bad_policy_change"


@dataclass
class Recommendation:
    id: str
    kind: str  # window | description | stricter_terms | remedy
    title: str
    numbers: dict[str, Any]
    change: dict[str, Any] | None = None  # a patch of the resolution policy; None: act in the store
    applied: bool = False
    orders: list[str] = field(default_factory=list)


def request_distribution(session: Session, shop_id: int, filters: Filters = Filters()) -> dict[str, dict[int, dict[str, int]]]:
    """reason -> days from delivery to request -> {"n": all requests, "legit": accepted ones}."""
    found: dict[str, dict[int, dict[str, int]]] = {}
    for row in queries.breakdown(session, shop_id, filters, "request_days", names=("n", "legit")):
        found.setdefault(row["reason"], {})[row["bucket"]] = {"n": row["n"], "legit": row["legit"]}
    return found


def _covered(buckets: dict[int, dict[str, int]], window_days: int) -> float | None:
    """Share of accepted requests a window admits. Bucket d holds requests made d to d+1 days after
    delivery, which a window of W days admits when d < W (the policy refuses past W whole days)."""
    total = sum(b["legit"] for b in buckets.values())
    return sum(b["legit"] for d, b in buckets.items() if d < window_days) / total if total else None


def window_advice(session: Session, shop: Shop, share: float, filters: Filters) -> list[Recommendation]:
    policy = policies.for_shop(shop)
    result = []
    for reason, buckets in sorted(request_distribution(session, shop.id, filters).items()):
        if reason not in policy.windows_days:
            continue
        legit = {d: b["legit"] for d, b in buckets.items() if b["legit"]}
        total = sum(legit.values())
        current = policy.windows_days[reason]
        numbers: dict[str, Any] = {
            "reason": reason, "legitimate_requests": total, "requests": sum(b["n"] for b in buckets.values()),
            "current_window_days": current, "current_covers": _covered(buckets, current), "share": share,
            "beyond_current": sum(b["n"] for d, b in buckets.items() if d >= current),
        }
        if total < MIN_REQUESTS:
            numbers["note"] = f"fewer than {MIN_REQUESTS} accepted requests: no window suggested yet"
            result.append(Recommendation(f"window:{reason}", "window", f"Return window for {reason}", numbers))
            continue
        days = queries.percentile(legit, share)
        # Requests in bucket `days` arrive before day days + 1 ends: the window that admits them.
        suggested = days + 1 if days is not None else current
        numbers.update(suggested_window_days=suggested, suggested_covers=_covered(buckets, suggested),
                       p50_days=queries.percentile(legit, 0.5), p90_days=queries.percentile(legit, 0.9))
        result.append(Recommendation(
            f"window:{reason}", "window",
            f"Set the {reason} window to {suggested} days (covers {round(100 * share)} % of accepted requests)",
            numbers, change={"windows_days": {reason: suggested}}, applied=current == suggested,
        ))
    return result


def product_advice(session: Session, shop: Shop, filters: Filters) -> list[Recommendation]:
    policy = policies.for_shop(shop)
    totals = {r["product"]: r for r in queries.totals(session, shop.id, filters, ("product",))}
    claims: dict[str, dict[str, int]] = {}
    for row in queries.breakdown(session, shop.id, filters, "claim", ("product",), names=("n",)):
        claims.setdefault(row["product"], {})[row["reason"]] = row["n"]
    orders = sum(t["orders"] for t in totals.values())
    shop_description = sum(c.get(r, 0) for c in claims.values() for r in DESCRIPTION_REASONS)
    shop_rate = shop_description / orders if orders else 0
    labels = analytics.labels(session, shop.id, "product", list(totals))
    result = []
    for product, t in sorted(totals.items()):
        count = sum(claims.get(product, {}).get(r, 0) for r in DESCRIPTION_REASONS)
        if t["orders"] < MIN_PRODUCT_ORDERS or count < 3:
            continue
        rate = count / t["orders"]
        if rate >= 2 * shop_rate:
            cited = [f.order_name for f in queries.drill(
                session, shop.id, Filters(filters.period_from, filters.period_to, product_key=product),
                outcome="claim", limit=10)]
            result.append(Recommendation(
                f"description:{product}", "description",
                f"Clearer description and size guide for {labels[product]}",
                {"product": labels[product], "product_key": product, "orders": t["orders"],
                 "description_claims": count, "rate": rate, "shop_rate": shop_rate,
                 "by_reason": {r: claims.get(product, {}).get(r, 0) for r in DESCRIPTION_REASONS}},
                orders=cited,
            ))
    changed = sum(c.get("changed_mind", 0) for c in claims.values())
    if orders and changed >= 5 and changed / orders >= 0.02:
        result.append(Recommendation(
            "terms:changed_mind", "stricter_terms",
            "Ask for the item back before refunding a change of mind",
            {"changed_mind_claims": changed, "orders": orders, "rate": changed / orders},
            change={"return_first": sorted({*policy.return_first, "changed_mind"})},
            applied="changed_mind" in policy.return_first,
        ))
    return result


def remedy_effect(session: Session, shop_id: int, filters: Filters = Filters()) -> list[dict[str, Any]]:
    rows = {r["reason"]: r for r in queries.breakdown(session, shop_id, filters, "remedy",
                                                       names=("claims", "disputed_after"))}
    return [{"remedy": remedy, "claims": rows.get(remedy, {}).get("claims", 0),
             "disputed_after": rows.get(remedy, {}).get("disputed_after", 0),
             "dispute_rate": (rows[remedy]["disputed_after"] / rows[remedy]["claims"])
             if rows.get(remedy, {}).get("claims") else None}
            for remedy in policies.REMEDIES if remedy != "return_first"]


def remedy_advice(session: Session, shop: Shop, filters: Filters) -> list[Recommendation]:
    policy = policies.for_shop(shop)
    effect = {r["remedy"]: r for r in remedy_effect(session, shop.id, filters)}
    full = effect["full_refund"]
    result = []
    for remedy in ("partial_refund", "store_credit"):
        mine = effect[remedy]
        if mine["claims"] < MIN_REMEDY_CLAIMS or full["claims"] < MIN_REMEDY_CLAIMS:
            continue
        numbers = {"remedy": remedy, "claims": mine["claims"], "disputed_after": mine["disputed_after"],
                   "dispute_rate": mine["dispute_rate"], "full_refund_claims": full["claims"],
                   "full_refund_dispute_rate": full["dispute_rate"]}
        offering = [r for r, remedies in policy.remedies.items() if remedy in remedies]
        if mine["dispute_rate"] > 2 * (full["dispute_rate"] or 0) and mine["disputed_after"] >= 3:
            change = {"remedies": {r: [m for m in policy.remedies[r] if m != remedy] for r in offering}}
            result.append(Recommendation(
                f"remedy:{remedy}", "remedy",
                f"Stop offering {remedy.replace('_', ' ')}: customers dispute after it more than after a full refund",
                numbers, change=change if offering else None, applied=not offering))
        else:
            numbers["note"] = "no more disputes than after full refunds: it saves money without adding chargebacks"
            result.append(Recommendation(f"remedy:{remedy}", "remedy",
                                         f"Keep offering {remedy.replace('_', ' ')}", numbers))
    return result


def recommendations(session: Session, shop: Shop, *, share: float = DEFAULT_SHARE,
                    filters: Filters = Filters()) -> list[Recommendation]:
    if share not in SHARES:
        raise BadChange(f"share must be one of {', '.join(str(s) for s in SHARES)}")
    return (window_advice(session, shop, share, filters) + product_advice(session, shop, filters)
            + remedy_advice(session, shop, filters))


def _merged(raw: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(raw)
    for key, value in change.items():
        if isinstance(value, dict):
            merged[key] = {**(merged.get(key) if isinstance(merged.get(key), dict) else {}), **value}
        else:
            merged[key] = value
    return merged


def apply(session: Session, shop: Shop, recommendation_id: str, *, share: float = DEFAULT_SHARE,
          filters: Filters = Filters()) -> policies.Policy:
    """The one-click change: the recommendation is computed again now (never trusted from the
    client), merged into the policy under a new version, and recorded like a policy saved by hand."""
    found = next((r for r in recommendations(session, shop, share=share, filters=filters)
                  if r.id == recommendation_id), None)
    if found is None or found.change is None:
        raise BadChange(f"no policy change is recommended under {recommendation_id!r} now")
    raw = (shop.settings or {}).get("resolutions")
    base = raw if isinstance(raw, dict) else {}
    if not base:
        base = {**copy.deepcopy(policies.DEFAULTS)}
    saved = _merged(base, found.change)
    saved["version"] = utcnow().strftime("v%Y%m%d-%H%M%S")
    shop.settings = {**(shop.settings or {}), "resolutions": saved}
    flag_modified(shop, "settings")
    policy = policies.for_shop(shop)
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=None, kind="resolution_policy.saved",
                    source="merchant",
                    data={"version": policy.version, "policy": saved, "digest": policies.digest(policy, policy.canonical()),
                          "recommendation": found.id, "numbers": found.numbers})
    session.flush()
    return policy
