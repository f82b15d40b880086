"""Finding late and stuck parcels (a beat task runs `detect`; "now" is an argument so tests travel in time).

Conditions, each raised at most once per shipment (app.tracking.alerts):
- no_first_scan: tracking issued, no carrier scan after tracking_no_first_scan_days (the classic
  "not received" dispute starts here);
- no_scan: in transit with no new scan for tracking_no_scan_days;
- past_window: not delivered after the route's late estimate;
- delivery_failed / exception / returning: raised when the status arrives (service), and here
  again for safety (a unique row makes it a no-op).
Each delay moves the customer's estimate to an honest later window before the message goes out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from app import exactly_once
from app.config import get_settings
from app.db import utcnow
from app.errors import AppError
from app.fulfilments.models import Shipment
from app.orders.models import Order
from app.shops.models import Shop
from app.tracking import alerts, windows
from app.tracking.models import ShipmentAlert
from app.tracking.statuses import Status

log = logging.getLogger(__name__)
BATCH = 500
_OPEN = ("pending", "info_received", "in_transit", "out_for_delivery", "available_for_pickup",
         "delivery_failed", "exception", "returning", "expired")
_ENTRY_CONDITIONS = {"delivery_failed": "delivery_failed", "exception": "exception", "returning": "returning"}


def _conditions(shipment: Shipment, now: datetime) -> list[str]:
    settings = get_settings()
    found = []
    shipped = shipment.shipped_at or shipment.created_at
    if shipment.first_scan_at is None and shipment.status in ("pending", "info_received", "expired") \
            and shipped < now - timedelta(days=settings.tracking_no_first_scan_days):
        found.append("no_first_scan")
    last_scan = shipment.last_event_at or shipment.first_scan_at
    if shipment.status == Status.IN_TRANSIT.value and last_scan is not None \
            and last_scan < now - timedelta(days=settings.tracking_no_scan_days):
        found.append("no_scan")
    if shipment.expected_by is not None and shipment.expected_by < now:
        found.append("past_window")
    if shipment.status in _ENTRY_CONDITIONS:
        found.append(_ENTRY_CONDITIONS[shipment.status])
    return found


def _missing(condition: str):
    return ~exists().where(ShipmentAlert.shipment_id == Shipment.id, ShipmentAlert.condition == condition)


def _candidates(session: Session, now: datetime) -> list[int]:
    """Shipments in at least one condition not raised yet (so raised ones never crowd out new ones)."""
    settings = get_settings()
    first_scan_cutoff = now - timedelta(days=settings.tracking_no_first_scan_days)
    scan_cutoff = now - timedelta(days=settings.tracking_no_scan_days)
    return list(session.scalars(
        select(Shipment.id)
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Shipment.status.in_(_OPEN),
            Order.status != "cancelled",
            or_(
                and_(Shipment.first_scan_at.is_(None), Shipment.status.in_(("pending", "info_received", "expired")),
                     Shipment.shipped_at < first_scan_cutoff, _missing("no_first_scan")),
                and_(Shipment.status == "in_transit", Shipment.last_event_at < scan_cutoff, _missing("no_scan")),
                and_(Shipment.expected_by < now, _missing("past_window")),
                *(and_(Shipment.status == status, _missing(condition))
                  for status, condition in _ENTRY_CONDITIONS.items()),
            ),
        )
        .order_by(Shipment.id)
        .limit(BATCH)
    ))


def check(session: Session, shipment_id: int, *, now: datetime | None = None) -> list[str]:
    """Raise every condition the shipment is in now; returns the conditions newly raised."""
    now = now or utcnow()
    order, shipment = exactly_once.lock_with_order(session, Shipment, shipment_id)
    if shipment is None or shipment.status not in _OPEN or order.status == "cancelled":
        return []
    shop = session.get(Shop, shipment.shop_id)
    raised = []
    for condition in _conditions(shipment, now):
        details: dict = {"status": shipment.status, "checked_at": now.isoformat()}
        if alerts.CONDITIONS[condition] == "delayed":
            window = windows.window_for(session, shipment)
            previous = (shipment.expected_from, shipment.expected_by)
            new_from, new_by = windows.later_estimate(shipment, window, now)
            details |= {"previous_expected_by": previous[1].isoformat() if previous[1] else None,
                        "expected_from": new_from.isoformat(), "expected_by": new_by.isoformat()}
            exists = session.scalar(select(ShipmentAlert.id).where(ShipmentAlert.shipment_id == shipment.id,
                                                                   ShipmentAlert.condition == condition))
            if exists is None:
                # The honest new estimate is in place before the customer's message is rendered.
                shipment.expected_from, shipment.expected_by = new_from, new_by
        if alerts.raise_alert(session, shop, order, shipment, condition, details, now=now) is not None:
            raised.append(condition)
    return raised


def detect(session: Session, *, now: datetime | None = None) -> dict[int, list[str]]:
    """Check every candidate shipment; returns {shipment_id: conditions raised}. Flushes only."""
    now = now or utcnow()
    found = {}
    for shipment_id in _candidates(session, now):
        try:
            with session.begin_nested():
                raised = check(session, shipment_id, now=now)
        except (AppError, DataError, ValueError):
            # One shipment the check cannot handle must not keep every other one from its alert;
            # it is logged and comes back on the next run.
            log.exception("tracking.delay_check_failed", extra={"shipment_id": shipment_id})
            continue
        if raised:
            found[shipment_id] = raised
    return found
