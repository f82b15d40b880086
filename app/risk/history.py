"""Loading what the features need from the other domains' tables: for a whole shop (the training
sweep, the rates refresh) or for one order (live scoring), with one set of queries for both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select, tuple_, union_all
from sqlalchemy.orm import Session

from app.fulfilments.models import Shipment
from app.history.models import HistoryFulfillment
from app.orders.models import OrderLine
from app.resolutions.models import Resolution
from app.risk import outcomes as outcome_facts
from app.risk.features import OrderFacts, Outcome
from app.risk.models import RiskOutcome, RiskRate, RiskSignal
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
            products.setdefault(order_id, set()).add(key)
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
    return {order_id: Outcome(o.first_bad_at, o.refunded_at, o.disputed_at)
            for order_id, o in outcome_facts.by_order(session, shop_id).items()}


class LiveCounts:
    """The counts one live score reads: risk_rates for the order's keys (as of their last refresh)
    and the customer's own earlier orders and outcomes (as of now)."""

    def __init__(self, session: Session, order: OrderFacts, shop_id: int, at: datetime) -> None:
        keys = [("shop", "all")] + [("product", p) for p in order.products]
        if order.destination:
            keys.append(("destination", order.destination))
        if order.supplier:
            keys.append(("supplier", order.supplier[0]))
        if order.carrier:
            keys.append(("carrier", order.carrier[0]))
        rows = session.execute(
            select(RiskRate.dimension, RiskRate.key, RiskRate.orders, RiskRate.bad, RiskRate.median_value)
            .where(RiskRate.shop_id == shop_id, tuple_(RiskRate.dimension, RiskRate.key).in_(keys))
        ).all()
        self._rates = {(row.dimension, row.key): (float(row.orders), float(row.bad)) for row in rows}
        shop_row = next((row for row in rows if row.dimension == "shop"), None)
        self._median = float(shop_row.median_value) if shop_row and shop_row.median_value is not None else None
        self._customer = (0, 0, 0)
        if order.customer_id is not None:
            self._customer = _customer_history(session, shop_id, order.customer_id, order.order_id, at)

    def shop(self) -> tuple[float, float]:
        return self._rates.get(("shop", "all"), (0.0, 0.0))

    def median_value(self) -> float | None:
        return self._median

    def key(self, dimension: str, key: str) -> tuple[float, float]:
        return self._rates.get((dimension, key), (0.0, 0.0))

    def customer(self, customer_id: int | None) -> tuple[int, int, int]:
        return self._customer


def _customer_history(session: Session, shop_id: int, customer_id: int, order_id: int,
                      at: datetime) -> tuple[int, int, int]:
    """(earlier orders, earlier orders refunded, earlier orders disputed) of one customer before `at`;
    counted per order, as the sweep counts them."""
    others = (select(RiskSignal.order_id)
              .where(RiskSignal.shop_id == shop_id, RiskSignal.customer_id == customer_id,
                     RiskSignal.order_id != order_id, RiskSignal.placed_at < at))
    prior = session.scalar(select(func.count()).select_from(others.subquery())) or 0
    if not prior:
        return 0, 0, 0
    outcomes = session.execute(
        select(
            func.count(func.distinct(RiskOutcome.order_id)).filter(RiskOutcome.kind.in_(outcome_facts.REFUND_LIKE)),
            func.count(func.distinct(RiskOutcome.order_id)).filter(RiskOutcome.kind == "dispute"),
        ).where(RiskOutcome.shop_id == shop_id, RiskOutcome.bad.is_(True), RiskOutcome.occurred_at < at,
                RiskOutcome.order_id.in_(others))
    ).one()
    return int(prior), int(outcomes[0] or 0), int(outcomes[1] or 0)
