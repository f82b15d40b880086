"""Features of an order as of a moment, from its payload facts and the shop's history before that
moment only. One function (`vector`) computes them, from counts that either the training sweep
keeps as it walks the shop's history in time order, or the live path reads (risk_rates, refreshed
from the same sweep's final state, and the customer's own history).

Time safety: the sweep applies every event (an order placed, a supplier or carrier assigned, an
outcome observed, a delay raised) in time order, and computes an order's features *before* any
event at or after the order's moment, so nothing that happened later can leak into them.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

# The model's inputs, in order (one source: the rules, the learned model and the reasons use it).
FEATURES = (
    "forwarder", "po_box", "country_mismatch", "name_mismatch", "ip_mismatch",
    "email_digits", "email_disposable", "email_name_mismatch",
    "value_vs_median", "quantity", "returning_customer", "prior_refunds", "prior_disputes",
    "product_rate", "supplier_rate", "destination_rate", "carrier_rate",
    "supplier_late", "no_first_scan", "delayed", "delivery_problem", "complaint",
)
DIMENSIONS = ("product", "supplier", "destination", "carrier")
# Events after the order that re-score it; the feature each one sets.
EVENT_FEATURES = ("supplier_late", "no_first_scan", "delayed", "delivery_problem", "complaint")
# How strongly a key's own history is pulled toward the shop's rate (pseudo-orders).
SMOOTHING = 10.0
# The shop-wide rate before any history: a prior of 1 bad in 10 orders.
PRIOR_BAD, PRIOR_ORDERS = 1.0, 10.0
RATE_CLIP = 3.0


@dataclass
class OrderFacts:
    """What is known about one order, with the time each thing became known."""

    order_id: int
    placed_at: datetime
    customer_id: int | None
    destination: str | None
    value: float
    quantity: int
    facts: dict
    products: tuple[str, ...] = ()
    supplier: tuple[str, datetime] | None = None
    carrier: tuple[str, datetime] | None = None
    events: list[tuple[datetime, str]] = field(default_factory=list)


class Counts(Protocol):
    def shop(self) -> tuple[float, float]: ...
    def median_value(self) -> float | None: ...
    def key(self, dimension: str, key: str) -> tuple[float, float]: ...
    def customer(self, customer_id: int | None) -> tuple[int, int, int]: ...


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def base_rate(counts: Counts) -> float:
    orders, bad = counts.shop()
    return (bad + PRIOR_BAD) / (orders + PRIOR_ORDERS)


def _rate(counts: Counts, dimension: str, keys: Iterable[str], base: float) -> float:
    """How much worse than the shop's usual the worst of these keys has been, in log-odds."""
    worst = 0.0
    seen = False
    for key in keys:
        orders, bad = counts.key(dimension, key)
        if orders <= 0:
            continue
        smoothed = (bad + SMOOTHING * base) / (orders + SMOOTHING)
        lift = _logit(smoothed) - _logit(base)
        worst = lift if not seen else max(worst, lift)
        seen = True
    return max(-RATE_CLIP, min(RATE_CLIP, worst))


def vector(order: OrderFacts, at: datetime, counts: Counts) -> list[float]:
    """The order's features as of `at` (counts must hold only what was known before `at`)."""
    facts = order.facts or {}
    base = base_rate(counts)
    median = counts.median_value()
    prior_orders, prior_refunded, prior_disputed = counts.customer(order.customer_id)
    value_ratio = math.log2(max(order.value, 0.01) / median) if median and median > 0 else 0.0
    supplier = [order.supplier[0]] if order.supplier and order.supplier[1] <= at else []
    carrier = [order.carrier[0]] if order.carrier and order.carrier[1] <= at else []
    happened = {name for moment, name in order.events if moment <= at}
    values = {
        "forwarder": float(bool(facts.get("forwarder"))),
        "po_box": float(bool(facts.get("po_box"))),
        "country_mismatch": float(bool(facts.get("country_mismatch"))),
        "name_mismatch": float(bool(facts.get("name_mismatch"))),
        "ip_mismatch": float(bool(facts.get("ip_mismatch"))),
        "email_digits": min(float(facts.get("email_digits") or 0), 6.0) / 3.0,
        "email_disposable": float(bool(facts.get("email_disposable"))),
        "email_name_mismatch": float(bool(facts.get("email_name_mismatch"))),
        "value_vs_median": max(-3.0, min(4.0, value_ratio)),
        "quantity": max(0.0, min(5.0, math.log2(max(order.quantity, 1)))),
        "returning_customer": float(prior_orders > 0),
        "prior_refunds": math.log2(1 + prior_refunded),
        "prior_disputes": math.log2(1 + prior_disputed),
        "product_rate": _rate(counts, "product", order.products, base),
        "supplier_rate": _rate(counts, "supplier", supplier, base),
        "destination_rate": _rate(counts, "destination", [order.destination] if order.destination else [], base),
        "carrier_rate": _rate(counts, "carrier", carrier, base),
        **{name: float(name in happened) for name in EVENT_FEATURES},
    }
    return [values[name] for name in FEATURES]


# ---- the sweep --------------------------------------------------------------------------------


class SweepCounts:
    """Counts as the sweep has applied them so far (everything strictly before the current event)."""

    def __init__(self) -> None:
        self.orders = 0.0
        self.bad = 0.0
        self.values: list[float] = []
        self.keys: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.customers: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])

    def shop(self) -> tuple[float, float]:
        return self.orders, self.bad

    def median_value(self) -> float | None:
        if not self.values:
            return None
        n = len(self.values)
        middle = n // 2
        return self.values[middle] if n % 2 else (self.values[middle - 1] + self.values[middle]) / 2

    def key(self, dimension: str, key: str) -> tuple[float, float]:
        found = self.keys.get((dimension, key))
        return (found[0], found[1]) if found else (0.0, 0.0)

    def customer(self, customer_id: int | None) -> tuple[int, int, int]:
        if customer_id is None:
            return 0, 0, 0
        found = self.customers.get(customer_id)
        return (found[0], found[1], found[2]) if found else (0, 0, 0)


@dataclass(frozen=True)
class Outcome:
    first_bad_at: datetime | None
    refunded_at: datetime | None
    disputed_at: datetime | None
    untimed_bad: bool = False


# Event priorities at one instant: features first, so that an order never sees events of its own
# moment (its own placement included).
_FEATURES, _PLACED, _ASSIGNED, _OBSERVED = 0, 1, 2, 3


def sweep(
    orders: list[OrderFacts], outcomes: dict[int, Outcome], *, landmarks: dict[int, list[datetime]],
) -> tuple[dict[tuple[int, datetime], tuple[list[float], float]], SweepCounts]:
    """Walk the shop's history in time order. Returns the features (and the shop's base rate) of
    each (order, moment) asked for in `landmarks` (order id -> moments), and the counts after the
    last event (what the live path's risk_rates are refreshed from)."""
    by_id = {order.order_id: order for order in orders}
    timeline: list[tuple[datetime, int, int, str]] = []
    for order in orders:
        timeline.append((order.placed_at, _PLACED, order.order_id, "placed"))
        for moment in landmarks.get(order.order_id, ()):
            timeline.append((moment, _FEATURES, order.order_id, "features"))
        if order.supplier:
            timeline.append((order.supplier[1], _ASSIGNED, order.order_id, "supplier"))
        if order.carrier:
            timeline.append((order.carrier[1], _ASSIGNED, order.order_id, "carrier"))
        outcome = outcomes.get(order.order_id)
        if outcome is not None:
            for moment, what in ((outcome.first_bad_at, "bad"), (outcome.refunded_at, "refunded"),
                                 (outcome.disputed_at, "disputed")):
                if moment is not None:
                    timeline.append((moment, _OBSERVED, order.order_id, what))
    timeline.sort(key=lambda item: (item[0], item[1], item[2]))
    counts = SweepCounts()
    known: dict[int, set[tuple[str, str]]] = defaultdict(set)  # order -> dimension keys counted for it
    features: dict[tuple[int, datetime], tuple[list[float], float]] = {}
    for moment, _, order_id, what in timeline:
        order = by_id[order_id]
        if what == "features":
            features[(order_id, moment)] = (vector(order, moment, counts), base_rate(counts))
        elif what == "placed":
            counts.orders += 1
            bisect.insort(counts.values, order.value)
            keys = [("product", p) for p in set(order.products)]
            if order.destination:
                keys.append(("destination", order.destination))
            for item in keys:
                counts.keys[item][0] += 1
                known[order_id].add(item)
            if order.customer_id is not None:
                counts.customers[order.customer_id][0] += 1
        elif what in ("supplier", "carrier"):
            item = (what, (order.supplier if what == "supplier" else order.carrier)[0])
            counts.keys[item][0] += 1
            known[order_id].add(item)
        elif what == "bad":
            counts.bad += 1
            for item in known[order_id]:
                counts.keys[item][1] += 1
        elif order.customer_id is not None:  # refunded | disputed
            counts.customers[order.customer_id][1 if what == "refunded" else 2] += 1
    return features, counts


def landmark_moments(order: OrderFacts, offsets: Iterable[timedelta]) -> list[datetime]:
    return [order.placed_at + offset for offset in offsets]
