"""Loading what the features need from the other domains' tables: for a whole shop (the training
sweep, the rates refresh) or for one order (live scoring), with one set of queries for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select, text, union_all
from sqlalchemy.orm import Session

from app.fulfilments.models import Shipment
from app.history.models import HistoryFulfillment
from app.orders.models import OrderLine
from app.resolutions.models import Resolution
from app.risk import outcomes as outcome_facts
from app.risk.features import OrderFacts, Outcome
from app.risk.models import RiskSignal
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import SupplierOrder
from app.tracking.models import ShipmentAlert

# Shipment alert conditions -> the event feature they set.
ALERT_EVENTS = {"no_first_scan": "no_first_scan", "no_scan": "delayed", "past_window": "delayed",
                "delivery_failed": "delivery_problem", "exception": "delivery_problem",
                "returning": "delivery_problem"}


def _where(query, shop_column, order_column, shop_id: int, order_ids: list[int] | None):
    query = query.where(shop_column == shop_id)
    return query.where(order_column.in_(order_ids)) if order_ids is not None else query


def load(session: Session, shop_id: int, order_ids: list[int] | None = None) -> list[OrderFacts]:
    """Facts of the shop's orders (all of them, or these) that have risk signals."""
    signals = session.execute(_where(
        select(RiskSignal.order_id, RiskSignal.placed_at, RiskSignal.customer_id, RiskSignal.destination,
               RiskSignal.value, RiskSignal.quantity, RiskSignal.facts),
        RiskSignal.shop_id, RiskSignal.order_id, shop_id, order_ids)).all()
    orders = {
        row.order_id: OrderFacts(order_id=row.order_id, placed_at=row.placed_at, customer_id=row.customer_id,
                                 destination=row.destination, value=float(row.value), quantity=row.quantity,
                                 facts=row.facts or {})
        for row in signals
    }
    products: dict[int, set[str]] = {}
    product_key = func.coalesce(cast(OrderLine.product_id, String), func.concat("sku:", OrderLine.sku))
    for order_id, key in session.execute(_where(
        select(OrderLine.order_id, product_key).where(OrderLine.quantity > 0),
        OrderLine.shop_id, OrderLine.order_id, shop_id, order_ids)):
        if key and order_id in orders:
            products.setdefault(order_id, set()).add(key[:64])
    for order_id, keys in products.items():
        orders[order_id].products = tuple(sorted(keys))
    suppliers = _where(
        select(SupplierOrder.order_id, cast(SupplierOrder.supplier_id, String), SupplierOrder.created_at)
        .order_by(SupplierOrder.order_id, SupplierOrder.id),
        SupplierOrder.shop_id, SupplierOrder.order_id, shop_id, order_ids)
    for order_id, supplier, at in session.execute(suppliers):
        if order_id in orders and orders[order_id].supplier is None:  # the first supplier order
            orders[order_id].supplier = (supplier, at)
    for order_id, carrier, at in _carriers(session, shop_id, order_ids):
        if order_id in orders and carrier:
            orders[order_id].carrier = (carrier.strip().lower()[:64], at)
    for order_id, at, name in _events(session, shop_id, order_ids):
        if order_id in orders:
            orders[order_id].events.append((at, name))
    return list(orders.values())


def _carriers(session: Session, shop_id: int, order_ids: list[int] | None) -> list[Any]:
    """The first carrier known for each order: our shipments, else the store's imported fulfilments."""
    ours = _where(select(Shipment.order_id, Shipment.carrier, Shipment.created_at).where(Shipment.carrier.is_not(None)),
                  Shipment.shop_id, Shipment.order_id, shop_id, order_ids)
    imported = _where(
        select(HistoryFulfillment.order_id, HistoryFulfillment.tracking_company, HistoryFulfillment.fulfilled_at)
        .where(HistoryFulfillment.tracking_company.is_not(None)),
        HistoryFulfillment.shop_id, HistoryFulfillment.order_id, shop_id, order_ids)
    both = union_all(ours, imported).subquery()
    rows = session.execute(select(both.c[0], both.c[1], both.c[2]).order_by(both.c[0], both.c[2])).all()
    first: dict[int, Any] = {}
    for row in rows:
        first.setdefault(row[0], row)
    return list(first.values())


def _events(session: Session, shop_id: int, order_ids: list[int] | None) -> list[tuple[int, datetime, str]]:
    found: list[tuple[int, datetime, str]] = []
    breaches = _where(select(SupplierSlaBreach.order_id, SupplierSlaBreach.detected_at),
                      SupplierSlaBreach.shop_id, SupplierSlaBreach.order_id, shop_id, order_ids)
    found += [(order_id, at, "supplier_late") for order_id, at in session.execute(breaches)]
    alerts = _where(select(ShipmentAlert.order_id, ShipmentAlert.created_at, ShipmentAlert.condition)
                    .where(ShipmentAlert.condition.in_(ALERT_EVENTS)),
                    ShipmentAlert.shop_id, ShipmentAlert.order_id, shop_id, order_ids)
    found += [(order_id, at, ALERT_EVENTS[condition]) for order_id, at, condition in session.execute(alerts)]
    claims = _where(select(Resolution.order_id, Resolution.created_at),
                    Resolution.shop_id, Resolution.order_id, shop_id, order_ids)
    found += [(order_id, at, "complaint") for order_id, at in session.execute(claims)]
    return found


def shop_outcomes(session: Session, shop_id: int) -> dict[int, Outcome]:
    return {order_id: Outcome(o.first_bad_at, o.refunded_at, o.disputed_at, o.untimed_bad)
            for order_id, o in outcome_facts.by_order(session, shop_id).items()}


# Everything one live score reads, in one round trip: the order's facts, its products, its first
# supplier and carrier, its events, the history counts of its keys (risk_rates, as of their last
# refresh) and its customer's earlier orders and outcomes (as of `at`). The same definitions as
# load() and the sweep; tests/risk/test_features.py checks that both compute the same features.
_LIVE = text("""
WITH s AS (
    SELECT order_id, placed_at, customer_id, destination, value, quantity, facts
    FROM risk_signals WHERE shop_id = :shop_id AND order_id = :order_id
), products AS (
    SELECT DISTINCT coalesce(CAST(product_id AS text), 'sku:' || sku) AS key
    FROM order_lines WHERE shop_id = :shop_id AND order_id = :order_id AND quantity > 0
), supplier AS (
    SELECT CAST(supplier_id AS text) AS key, created_at AS at
    FROM supplier_orders WHERE shop_id = :shop_id AND order_id = :order_id ORDER BY id LIMIT 1
), carrier AS (
    SELECT left(lower(trim(name)), 64) AS key, at FROM (
        SELECT carrier AS name, created_at AS at FROM shipments
        WHERE shop_id = :shop_id AND order_id = :order_id AND carrier IS NOT NULL
        UNION ALL
        SELECT tracking_company, fulfilled_at FROM history_fulfillments
        WHERE shop_id = :shop_id AND order_id = :order_id AND tracking_company IS NOT NULL
    ) known ORDER BY at LIMIT 1
), events AS (
    SELECT detected_at AS at, 'supplier_late' AS name FROM supplier_sla_breaches
    WHERE shop_id = :shop_id AND order_id = :order_id
    UNION ALL
    SELECT created_at, 'alert:' || condition FROM shipment_alerts WHERE shop_id = :shop_id AND order_id = :order_id
    UNION ALL
    SELECT created_at, 'complaint' FROM resolutions WHERE shop_id = :shop_id AND order_id = :order_id
), keys AS (
    SELECT 'shop' AS dimension, 'all' AS key
    UNION ALL SELECT DISTINCT 'product', left(key, 64) FROM products
    UNION ALL SELECT 'destination', destination FROM s WHERE destination IS NOT NULL
    UNION ALL SELECT 'supplier', key FROM supplier
    UNION ALL SELECT 'carrier', key FROM carrier
), others AS (
    SELECT order_id FROM risk_signals
    WHERE shop_id = :shop_id AND customer_id = (SELECT customer_id FROM s)
      AND order_id <> :order_id AND placed_at < :at
)
SELECT s.*,
    (SELECT coalesce(array_agg(DISTINCT left(key, 64)), '{}') FROM products) AS products,
    (SELECT key FROM supplier) AS supplier, (SELECT at FROM supplier) AS supplier_at,
    (SELECT key FROM carrier) AS carrier, (SELECT at FROM carrier) AS carrier_at,
    (SELECT coalesce(json_agg(json_build_array(at, name)), '[]') FROM events) AS events,
    (SELECT coalesce(json_agg(json_build_array(r.dimension, r.key, r.orders, r.bad, r.median_value)), '[]')
     FROM risk_rates r JOIN keys k ON r.dimension = k.dimension AND r.key = k.key
     WHERE r.shop_id = :shop_id) AS rates,
    (SELECT count(*) FROM others) AS prior_orders,
    (SELECT count(DISTINCT order_id) FROM risk_outcomes
     WHERE shop_id = :shop_id AND bad AND occurred_at < :at AND kind = ANY(:refund_like)
       AND order_id IN (SELECT order_id FROM others)) AS prior_refunded,
    (SELECT count(DISTINCT order_id) FROM risk_outcomes
     WHERE shop_id = :shop_id AND bad AND occurred_at < :at AND kind = 'dispute'
       AND order_id IN (SELECT order_id FROM others)) AS prior_disputed,
    (SELECT json_build_array(id, version, trained_at) FROM risk_models
     WHERE shop_id = :shop_id AND status = 'active' ORDER BY id DESC LIMIT 1) AS active_model,
    (SELECT digest FROM risk_scores WHERE order_id = :order_id) AS previous_digest
FROM s
""")


class LiveCounts:
    """The counts one live score reads (see _LIVE), with the interface the sweep's counts have."""

    def __init__(self, rates: list[list], customer: tuple[int, int, int]) -> None:
        self._rates = {(d, k): (float(n), float(b)) for d, k, n, b, _ in rates}
        median = next((m for d, _, _, _, m in rates if d == "shop"), None)
        self._median = float(median) if median is not None else None
        self._customer = customer

    def shop(self) -> tuple[float, float]:
        return self._rates.get(("shop", "all"), (0.0, 0.0))

    def median_value(self) -> float | None:
        return self._median

    def key(self, dimension: str, key: str) -> tuple[float, float]:
        return self._rates.get((dimension, key), (0.0, 0.0))

    def customer(self, customer_id: int | None) -> tuple[int, int, int]:
        return self._customer


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Live:
    facts: OrderFacts
    counts: LiveCounts
    # (id, version, trained_at) of the shop's active learned model, if any
    active_model: tuple[int, str, datetime] | None
    previous_digest: str | None


def load_live(session: Session, shop_id: int, order_id: int, at: datetime) -> Live | None:
    """One order's facts, the counts its live score reads, the shop's active model and the order's
    current score version, in one query; None for an order without signals."""
    row = session.execute(_LIVE, {"shop_id": shop_id, "order_id": order_id, "at": at,
                                  "refund_like": list(outcome_facts.REFUND_LIKE)}).mappings().one_or_none()
    if row is None:
        return None
    events = []
    for moment, name in row["events"]:
        name = ALERT_EVENTS.get(name.removeprefix("alert:")) if name.startswith("alert:") else name
        if name:
            events.append((_moment(moment), name))
    facts = OrderFacts(
        order_id=row["order_id"], placed_at=row["placed_at"], customer_id=row["customer_id"],
        destination=row["destination"], value=float(row["value"]), quantity=row["quantity"], facts=row["facts"] or {},
        products=tuple(sorted(row["products"])),
        supplier=(row["supplier"], row["supplier_at"]) if row["supplier"] else None,
        carrier=(row["carrier"], row["carrier_at"]) if row["carrier"] else None,
        events=events,
    )
    customer = (int(row["prior_orders"]), int(row["prior_refunded"]), int(row["prior_disputed"]))
    model = row["active_model"]
    return Live(facts=facts, counts=LiveCounts(row["rates"], customer if row["customer_id"] is not None else (0, 0, 0)),
                active_model=(int(model[0]), model[1], _moment(model[2])) if model else None,
                previous_digest=row["previous_digest"])
