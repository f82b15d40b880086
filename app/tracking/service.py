"""Applying carrier scans to shipments: status moves, evidence, store events, customer messages.

`apply_scan` is the one entry point for every source (17TRACK and AfterShip webhooks and polls,
supplier tracking such as CJ's). It is safe to call twice with the same data: scans at or before the
shipment's last known scan are not recorded again, and a status moves only when
`statuses.supersedes` allows and the scan is not older than the one that set the current status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import utcnow
from app.fulfilments import updates as store_updates
from app.fulfilments.models import Shipment
from app.orders.models import DeliveryAddress, Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.suppliers.service import advance_order
from app.tracking import alerts, numbers, windows
from app.tracking.aggregators import ScanEvent
from app.tracking.statuses import Normalised, Reason, Status, supersedes, to_shopify

REGISTER_TASK = "tracking.register"
INVALID_NUMBER = "invalid_number"
# A supplier lane's number (no check digit) waits for the aggregator to recognise it.
AWAITING_RECOGNITION = "awaiting_recognition"
_HELD_FLAGS = (INVALID_NUMBER, AWAITING_RECOGNITION)
# Status -> the customer's message stage when the parcel enters it.
_STAGE_ON_ENTRY = {Status.OUT_FOR_DELIVERY: "out_for_delivery"}
# Status -> the merchant alert raised when the parcel enters it (its customer message comes with it).
_ALERT_ON_ENTRY = {
    Status.DELIVERY_FAILED: "delivery_failed",
    Status.EXCEPTION: "exception",
    Status.RETURNING: "returning",
    Status.RETURNED: "returning",
    Status.INVALID: "invalid_number",
}
_NOT_A_SCAN = (Status.PENDING, Status.INFO_RECEIVED, Status.EXPIRED, Status.INVALID)


# --- a new shipment -------------------------------------------------------------------------------


def announceable(shipment: Shipment) -> bool:
    """Whether the customer may be told about this shipment: not while the number is invalid, nor
    while a supplier lane's number waits for the aggregator to recognise it."""
    return not any(flag in _HELD_FLAGS for flag in shipment.flags or [])


def _without_held(shipment: Shipment) -> list[str]:
    return [flag for flag in shipment.flags or [] if flag not in _HELD_FLAGS]


def _flag_invalid(session: Session, shop: Shop, order: Order, shipment: Shipment, data: dict) -> None:
    shipment.flags = [*_without_held(shipment), INVALID_NUMBER]
    alerts.record(session, shop, shipment, "shipment.number_invalid", {"carrier": shipment.carrier, **data})
    alerts.raise_alert(session, shop, order, shipment, "invalid_number", {"carrier": shipment.carrier, **data})


def check_number(session: Session, shop: Shop, order: Order, shipment: Shipment) -> bool:
    """Validate the tracking number; an invalid one is flagged, recorded and alerted. Returns
    whether it may be announced now (a lane's number waits for the aggregator: see recognised)."""
    match = numbers.validate(shipment.tracking_number)
    if match is None:
        _flag_invalid(session, shop, order, shipment, {})
        return False
    shipment.flags = [*_without_held(shipment), *([AWAITING_RECOGNITION] if match.needs_aggregator else [])]
    shipment.carrier = shipment.carrier or match.carrier_name[:64]
    if not shipment.tracking_url and match.tracking_url and len(match.tracking_url) <= 1024:
        shipment.tracking_url = match.tracking_url
    alerts.record(session, shop, shipment, "shipment.number_checked",
                  {"valid": True, "carrier": match.carrier, "format": match.format_id, "country": match.country,
                   "awaiting_recognition": match.needs_aggregator})
    return not match.needs_aggregator


def recognised(session: Session, shipment: Shipment, *, provider: str) -> bool:
    """The aggregator took the number: a lane's number (or one our table does not know) is a
    tracking number after all; announced now if the order has shipped. True when that happened."""
    order, shipment = exactly_once.lock_with_order(session, Shipment, shipment.id)
    if announceable(shipment):
        return False
    shop = session.get(Shop, shipment.shop_id)
    was_invalid = INVALID_NUMBER in (shipment.flags or [])
    shipment.flags = _without_held(shipment)
    if was_invalid:
        alerts.resolve(session, shipment, ("invalid_number",), now=utcnow())
    alerts.record(session, shop, shipment, "shipment.number_recognised",
                  {"provider": provider, "was_invalid": was_invalid}, source=provider)
    if order.status in ("shipped", "delivered"):
        alerts.notify_customer(session, order, "shipped")
    return True


def unrecognised(session: Session, shipment: Shipment, *, provider: str, error: str) -> None:
    """The aggregator refused the number: a lane's number waiting for it is invalid after all."""
    order, shipment = exactly_once.lock_with_order(session, Shipment, shipment.id)
    if AWAITING_RECOGNITION in (shipment.flags or []):
        _flag_invalid(session, session.get(Shop, shipment.shop_id), order, shipment,
                      {"provider": provider, "reason": error[:300]})


def on_shipment_created(session: Session, shop: Shop, order: Order, shipment: Shipment) -> None:
    """Called in the transaction that creates a shipment: check, estimate, follow with the aggregator."""
    shipment.destination_country = session.scalar(
        select(DeliveryAddress.country_code).where(DeliveryAddress.order_id == order.id)
    )
    check_number(session, shop, order, shipment)
    session.flush()
    window = windows.set_estimate(session, shipment)
    alerts.record(session, shop, shipment, "shipment.estimate",
                  {"typical_days": window.typical_days, "late_days": window.late_days, "learned_from": window.points,
                   "expected_from": _iso(shipment.expected_from), "expected_by": _iso(shipment.expected_by)})
    enqueue(session, REGISTER_TASK, shipment.id)


def change_tracking(session: Session, shipment: Shipment, *, tracking_number: str, carrier: str | None,
                    tracking_url: str | None, source: str) -> bool:
    """The supplier (or merchant) gave the parcel new tracking details: record, re-check, re-follow,
    update the store's fulfilment, and announce it if the old number had held the announcement back.
    Returns False when nothing changed."""
    order, shipment = exactly_once.lock_with_order(session, Shipment, shipment.id)
    shop = session.get(Shop, shipment.shop_id)
    tracking_number = tracking_number.strip()[:64]
    new = (tracking_number, carrier or shipment.carrier, tracking_url or None)
    old = (shipment.tracking_number, shipment.carrier, shipment.tracking_url)
    if new == old:
        return False
    was_held = not announceable(shipment)
    number_changed = tracking_number != shipment.tracking_number
    shipment.tracking_number, shipment.carrier, shipment.tracking_url = new
    alerts.record(session, shop, shipment, "shipment.tracking_changed",
                  {"previous_number": old[0], "previous_carrier": old[1], "carrier": shipment.carrier,
                   "source": source}, source=source)
    if number_changed:
        valid = check_number(session, shop, order, shipment)
        shipment.registered_at = None
        enqueue(session, REGISTER_TASK, shipment.id)
        if valid and was_held and order.status == "shipped":
            alerts.notify_customer(session, order, "shipped")
    store_updates.queue_tracking_update(session, shipment)
    return True


# --- scans ----------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _record_scans(session: Session, shop: Shop, shipment: Shipment, events: Sequence[ScanEvent], source: str) -> int:
    since = shipment.last_event_at
    fresh = [e for e in events if e.time is not None and (since is None or e.time > since)]
    for event in fresh:
        alerts.record(
            session, shop, shipment, "tracking.scan",
            {"provider": source, "time": _iso(event.time), "raw_status": event.raw_status,
             "status": event.normalised.status.value if event.normalised else None},
            personal={"location": event.location, "description": event.description},
            occurred_at=event.time, source=source,
        )
    if fresh:
        shipment.last_event_at = max(e.time for e in fresh)
    scanned = [e.time for e in events if e.time and e.normalised and e.normalised.status not in _NOT_A_SCAN]
    if scanned and (shipment.first_scan_at is None or min(scanned) < shipment.first_scan_at):
        shipment.first_scan_at = min(scanned)
    return len(fresh)


def _status_time(normalised: Normalised, events: Sequence[ScanEvent], now: datetime) -> datetime:
    """When the latest status happened: its newest matching scan, else the newest scan, else now."""
    matching = [e.time for e in events if e.time and e.normalised and e.normalised.status == normalised.status]
    dated = [e.time for e in events if e.time]
    return max(matching or dated or [now])


def _all_delivered(session: Session, order: Order) -> bool:
    states = session.scalars(select(Shipment.status).where(Shipment.order_id == order.id)).all()
    return bool(states) and all(state == Status.DELIVERED.value for state in states)


def _after_change(session: Session, shop: Shop, order: Order, shipment: Shipment, new: Status, at: datetime,
                  now: datetime) -> None:
    # IN_TRANSIT rather than CARRIER_PICKED_UP for the first transit scan: the first scan a carrier
    # reports is not always the pickup (arrival or departure scans often come first).
    reason = Reason(shipment.status_reason) if shipment.status_reason else None
    shopify = to_shopify(new, reason)
    if shopify and order.status != "cancelled":
        store_updates.queue_event(session, shipment, shopify, at)
    if new in (Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.DELIVERED, Status.AVAILABLE_FOR_PICKUP):
        alerts.resolve(session, shipment, alerts.STALL_CONDITIONS, now=now)
    if new == Status.DELIVERED:
        # Its own ledger kind: the customer's timeline (app.status.timeline) shows "delivered" from it.
        alerts.record(session, shop, shipment, "shipment.delivered", {"provider": shipment.provider}, occurred_at=at)
    if not announceable(shipment) and new not in _NOT_A_SCAN:
        # The carrier scanned a number our format check refused (a carrier our table lacks) or a
        # lane's number still waiting for recognition: the scan proves it; it is announced now,
        # late rather than never.
        shipment.flags = _without_held(shipment)
        alerts.resolve(session, shipment, ("invalid_number",), now=now)
        alerts.record(session, shop, shipment, "shipment.number_confirmed", {"status": new.value})
        if order.status in ("shipped", "delivered"):
            alerts.notify_customer(session, order, "shipped")
    if not announceable(shipment):
        return  # the customer was never told about this number: no carrier news either
    if new in _STAGE_ON_ENTRY:
        alerts.notify_customer(session, order, _STAGE_ON_ENTRY[new])
    if new == Status.DELIVERED and _all_delivered(session, order):
        advance_order(order, "delivered")
        alerts.notify_customer(session, order, "delivered")
    if new in _ALERT_ON_ENTRY:
        condition = _ALERT_ON_ENTRY[new]
        if condition == "invalid_number":
            shipment.flags = [*_without_held(shipment), INVALID_NUMBER]
        alerts.raise_alert(session, shop, order, shipment, condition,
                           {"status": new.value, "reason": shipment.status_reason,
                            "raw_status": shipment.raw_status, "raw_sub_status": shipment.raw_sub_status}, now=now)


def apply_scan(session: Session, shipment: Shipment, normalised: Normalised | None, events: Sequence[ScanEvent],
               source: str, *, now: datetime | None = None) -> str:
    """Apply one report about a parcel (latest status + its scans, any order). Flushes, never commits.

    Returns "changed", "unchanged" (nothing new or not allowed to move) or "stale" (older than the
    scan that set the current status). Callable by supplier adapters (e.g. CJ tracking webhooks)
    with `source` naming them.
    """
    now = now or utcnow()
    order, shipment = exactly_once.lock_with_order(session, Shipment, shipment.id)
    shop = session.get(Shop, shipment.shop_id)
    previous_status_at = shipment.status_at
    _record_scans(session, shop, shipment, events, source)
    if normalised is None:
        return "unchanged"
    at = _status_time(normalised, events, now)
    if previous_status_at is not None and at < previous_status_at:
        alerts.record(session, shop, shipment, "shipment.status_not_applied",
                      {"reason": "older_than_current", **normalised.as_dict(), "scan_time": _iso(at)}, source=source)
        return "stale"
    current = Status(shipment.status) if shipment.status else None
    if not supersedes(normalised.status, current):
        return "unchanged"
    shipment.status = normalised.status.value
    shipment.raw_status, shipment.raw_sub_status = normalised.raw_status, normalised.raw_sub_status
    shipment.status_reason = normalised.reason.value if normalised.reason else None
    shipment.provider, shipment.status_at = source[:16], at
    if normalised.status == Status.DELIVERED:
        shipment.delivered_at = at
    alerts.record(session, shop, shipment, "shipment.status_changed",
                  {"from": current.value if current else None, **normalised.as_dict(), "source": source,
                   "scan_time": _iso(at)}, occurred_at=at, source=source)
    _after_change(session, shop, order, shipment, normalised.status, at, now)
    return "changed"


def shipments_for_number(session: Session, number: str) -> list[Shipment]:
    """Shipments carrying this tracking number (as stored, or in its normalised form)."""
    candidates = {number, numbers.normalise(number)}
    return list(session.scalars(
        select(Shipment).where(Shipment.tracking_number.in_(candidates)).order_by(Shipment.id)
    ))


def apply_supplier_status(session: Session, *, supplier_order_id: int, tracking_number: str,
                          normalised: Normalised, at: datetime | None, source: str,
                          now: datetime | None = None) -> str:
    """A supplier's own tracking status for one of its parcels (e.g. CJ's logistics webhook mapped
    with statuses.from_cj), applied like a carrier scan. Returns apply_scan's outcome, or
    "unknown_number" when no shipment of that supplier order carries the number (recorded by the
    caller's own inbox, not applied)."""
    shipment = session.scalar(
        select(Shipment).where(Shipment.supplier_order_id == supplier_order_id,
                               Shipment.tracking_number.in_({tracking_number, numbers.normalise(tracking_number)}))
    )
    if shipment is None:
        return "unknown_number"
    scan = ScanEvent(time=at, location=None, description=None, raw_status=normalised.raw_status, normalised=normalised)
    return apply_scan(session, shipment, normalised, [scan] if at else [], source, now=now)
