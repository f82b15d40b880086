"""Shipments needing attention: one merchant alert per (shipment, condition), and the customer message
that goes with it.

An alert is created at most once per condition (unique row); its customer message goes through the
notifications service, which itself sends at most one message per order and stage. A stage the
notifications service does not know (yet) is recorded as not sent instead of failing the caller:
losing a carrier scan because an email template is missing would be the worse outcome.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.fulfilments.models import Shipment
from app.insights.refresh import order_changed
from app.notifications import service as notifications
from app.notifications.stages import STAGES
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.status import journey
from app.tracking.models import ShipmentAlert

log = logging.getLogger(__name__)

# Condition -> the customer's message stage (None: the merchant alone is told).
CONDITIONS: dict[str, str | None] = {
    "invalid_number": None,
    "no_first_scan": "delayed",
    "no_scan": "delayed",
    "past_window": "delayed",
    "delivery_failed": "exception",
    "exception": "exception",
    "returning": "exception",
}
# Conditions that a new carrier scan answers: the parcel moves again.
STALL_CONDITIONS = ("no_first_scan", "no_scan")


def record(session: Session, shop: Shop, shipment: Shipment, kind: str, data: dict[str, Any],
           *, personal: dict[str, Any] | None = None, occurred_at: datetime | None = None,
           source: str = "dropguard") -> None:
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, order_id=shipment.order_id, kind=kind, source=source,
        occurred_at=occurred_at, personal=personal,
        data={"shipment_id": shipment.id, "tracking_number": shipment.tracking_number, **data},
    )
    order_changed(session, shipment.order_id)  # first scan, delivery and exceptions feed the scorecards


def notify_customer(session: Session, order: Order, stage: str, context: dict[str, Any] | None = None) -> bool:
    """Schedule the stage's message once; False when it cannot be (unknown stage, cancelled order)."""
    if order.status == "cancelled":
        return False
    if stage not in STAGES:
        log.warning("tracking.notification_stage_unavailable", extra={"stage": stage, "order_id": order.id})
        shop = session.get(Shop, order.shop_id)
        evidence.record(
            session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="notification.not_scheduled",
            source="dropguard", data={"stage": stage, "reason": "stage_unavailable"},
        )
        return False
    return notifications.schedule(session, order, stage=stage, context=context) is not None


def raise_alert(session: Session, shop: Shop, order: Order, shipment: Shipment, condition: str,
                details: dict[str, Any], *, now: datetime | None = None) -> ShipmentAlert | None:
    """Create the alert (and its customer message) unless this condition was raised before."""
    alert_id = session.scalar(
        insert(ShipmentAlert)
        .values(shop_id=shop.id, order_id=order.id, shipment_id=shipment.id, condition=condition,
                created_at=now or utcnow(), details=details)
        .on_conflict_do_nothing(index_elements=["shipment_id", "condition"])
        .returning(ShipmentAlert.id)
    )
    if alert_id is None:
        return None
    record(session, shop, shipment, "shipment.alert", {"condition": condition, "alert_id": alert_id, **details},
           occurred_at=now)
    if condition != "invalid_number":  # a stalled or troubled parcel raises the order's risk
        enqueue(session, "risk.rescore_order", order.id, condition)
    stage = CONDITIONS[condition]
    if stage is not None:
        notify_customer(session, order, stage, message_context(condition, shipment))
    return session.get(ShipmentAlert, alert_id)


# Condition -> the `reason` the delayed/exception templates understand (app.notifications.service).
_MESSAGE_REASONS = {"no_first_scan": "no_first_scan", "no_scan": "stalled", "past_window": "late",
                    "delivery_failed": "delivery_failed", "returning": "returning", "exception": "exception"}


def message_context(condition: str, shipment: Shipment) -> dict[str, Any]:
    """Non-personal facts for the customer's message: why, and the honest new estimate."""
    context: dict[str, Any] = {"reason": _MESSAGE_REASONS.get(condition, condition),
                               "tracking_number": shipment.tracking_number, "shipment_id": shipment.id}
    if condition == "delivery_failed":  # what the customer can do: collect it, rearrange, …
        context["action"] = journey.delivery_action(shipment.status, shipment.status_reason)
    if CONDITIONS.get(condition) == "delayed" and shipment.expected_by is not None:
        context["estimate_from"] = (shipment.expected_from or shipment.expected_by).date().isoformat()
        context["estimate_to"] = shipment.expected_by.date().isoformat()
    return context


def resolve(session: Session, shipment: Shipment, conditions: tuple[str, ...], *, now: datetime | None = None) -> int:
    """Mark open alerts of these conditions as resolved (the parcel moved); returns how many."""
    result = session.execute(
        update(ShipmentAlert)
        .where(ShipmentAlert.shipment_id == shipment.id, ShipmentAlert.condition.in_(conditions),
               ShipmentAlert.resolved_at.is_(None))
        .values(resolved_at=now or utcnow())
    )
    return result.rowcount or 0


def open_alerts(session: Session, shop_id: int, *, limit: int = 200) -> list[ShipmentAlert]:
    return list(session.scalars(
        select(ShipmentAlert)
        .where(ShipmentAlert.shop_id == shop_id, ShipmentAlert.resolved_at.is_(None))
        .order_by(ShipmentAlert.created_at.desc(), ShipmentAlert.id.desc())
        .limit(limit)
    ))


def attention_rows(session: Session, shop_id: int, *, limit: int = 200) -> list[tuple[ShipmentAlert, Order, Shipment]]:
    """Open alerts of one shop with their order and shipment, newest first (the dashboard's list)."""
    return [tuple(row) for row in session.execute(
        select(ShipmentAlert, Order, Shipment)
        .join(Order, Order.id == ShipmentAlert.order_id)
        .join(Shipment, Shipment.id == ShipmentAlert.shipment_id)
        .where(ShipmentAlert.shop_id == shop_id, Order.shop_id == shop_id, ShipmentAlert.resolved_at.is_(None))
        .order_by(ShipmentAlert.created_at.desc(), ShipmentAlert.id.desc())
        .limit(limit)
    )]
