"""Changes to a shipment's store fulfilment after it exists: new tracking details
(fulfillmentTrackingInfoUpdate) and carrier events (fulfillmentEventCreate), each exactly once.

Same discipline as the fulfilment itself: an advisory lock per object, the attempt committed before
the call, and every call first reads the fulfilment so that a change whose answer was lost is
adopted, never made twice (the store does not deduplicate events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope
from app.evidence import service as evidence
from app.external_calls import Call
from app.fulfilments.client import StoreClient, StoreError, StoreTemporaryError
from app.fulfilments.models import Shipment, StoreFulfilmentEvent
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops import guard
from app.shops import service as shops
from app.shops.models import Shop
from app.tracking.aggregators import parse_time

EVENT_TASK = "fulfilments.push_event"
TRACKING_TASK = "fulfilments.update_tracking"
MAX_ATTEMPTS = 9
# Shopify FulfillmentEventStatus values we report (issue: in transit, out for delivery, delivered,
# failure; attempted delivery, pickup and delay are the finer Shopify names for the same stages).
PUSHED_STATUSES = frozenset({
    "CARRIER_PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "READY_FOR_PICKUP", "ATTEMPTED_DELIVERY",
    "DELAYED", "DELIVERED", "FAILURE",
})

# Within the store's single-query cost limit (1000): fulfilments x events is what the store charges.
FULFILMENTS_QUERY = """
query($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 10) {
      id status trackingInfo { company number url }
      events(first: 40) { nodes { id status happenedAt } }
    }
  }
}
"""
EVENT_CREATE = """
mutation($event: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $event) {
    fulfillmentEvent { id status happenedAt }
    userErrors { field message }
  }
}
"""
TRACKING_UPDATE = """
mutation($id: ID!, $tracking: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: false) {
    fulfillment { id trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""


class Busy(Exception):
    """Another task holds this change, or the fulfilment is not in the store yet: try again later."""


def _record(session: Session, shop: Shop, shipment: Shipment, kind: str, data: dict[str, Any]) -> None:
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, order_id=shipment.order_id, kind=kind, source="dropguard",
        data={"shipment_id": shipment.id, "tracking_number": shipment.tracking_number, **data},
    )


# --- queueing (called by app.tracking in the caller's transaction) ------------------------------


def queue_event(session: Session, shipment: Shipment, status: str, happened_at: datetime) -> int | None:
    """One store event for this (shipment, status, time); None when it was queued before."""
    status = status.upper()
    if status not in PUSHED_STATUSES:
        return None
    event_id = session.scalar(
        insert(StoreFulfilmentEvent)
        .values(shop_id=shipment.shop_id, order_id=shipment.order_id, shipment_id=shipment.id, status=status,
                happened_at=happened_at, state="pending", attempts=0, details={})
        .on_conflict_do_nothing(index_elements=["shipment_id", "status", "happened_at"])
        .returning(StoreFulfilmentEvent.id)
    )
    if event_id is not None:
        enqueue(session, EVENT_TASK, event_id)
    return event_id


def tracking_details(shipment: Shipment) -> dict[str, str]:
    tracking = {"number": shipment.tracking_number}
    if shipment.carrier:
        tracking["company"] = shipment.carrier
    if shipment.tracking_url:
        tracking["url"] = shipment.tracking_url
    return tracking


def queue_tracking_update(session: Session, shipment: Shipment) -> None:
    """Our tracking details changed: the store's fulfilment will be brought in line once."""
    shipment.store_tracking_synced = False
    enqueue(session, TRACKING_TASK, shipment.id)


def attach_number(client: StoreClient, order: dict[str, Any], tracking: dict[str, str]) -> dict[str, Any] | None:
    """Add a parcel's number to the order's first successful fulfilment; None when there is none.

    Used by the fulfilment push when an earlier parcel fulfilled every item: one fulfilment then
    carries every parcel's number. The caller has read the order first and found the number absent.
    """
    fulfillment = next((f for f in order.get("fulfillments") or [] if f.get("status") == "SUCCESS"), None)
    if fulfillment is None:
        return None
    infos = [i for i in fulfillment.get("trackingInfo") or [] if isinstance(i, dict) and i.get("number")]
    numbers = [i["number"] for i in infos] + [tracking["number"]]
    urls = [i.get("url") for i in infos if i.get("url")] + ([tracking["url"]] if tracking.get("url") else [])
    company = next((i.get("company") for i in infos if i.get("company")), None) or tracking.get("company")
    tracking_input = {"numbers": numbers, "urls": urls, **({"company": company} if company else {})}
    answer = client.graphql(TRACKING_UPDATE, {"id": fulfillment["id"], "tracking": tracking_input})
    updated = answer.get("fulfillmentTrackingInfoUpdate") or {}
    if updated.get("userErrors") or not updated.get("fulfillment"):
        return None
    return updated["fulfillment"]


# --- calls ----------------------------------------------------------------------------------------


@dataclass
class _Job:
    shop_domain: str
    access_token: str
    order_gid: str
    fulfillment_id: str
    attempt: int


def _fulfillment(client: StoreClient, job: _Job) -> dict[str, Any] | None:
    order = client.graphql(FULFILMENTS_QUERY, {"id": job.order_gid}).get("order") or {}
    return next((f for f in order.get("fulfillments") or [] if f.get("id") == job.fulfillment_id), None)


def _same_time(a: Any, b: datetime) -> bool:
    moment = parse_time(a) if isinstance(a, str) else None
    return moment is not None and abs((moment - b).total_seconds()) < 1


def _job(session: Session, shipment: Shipment, attempt: int) -> _Job:
    shop = session.get(Shop, shipment.shop_id)
    order = session.get(Order, shipment.order_id)
    return _Job(shop.domain, shops.access_token(shop), f"gid://shopify/Order/{order.external_id}",
                shipment.store_fulfillment_id, attempt)


def _gate(shipment: Shipment) -> str | None:
    """Why nothing can be sent now: 'wait' until the fulfilment exists, 'failed' if it never will."""
    if shipment.store_status == "pending":
        return "wait"
    if shipment.store_status != "pushed" or not shipment.store_fulfillment_id:
        return "failed"
    return None


def _begin_event(session: Session, event_id: int) -> tuple[_Job, StoreFulfilmentEvent] | str:
    row = session.get(StoreFulfilmentEvent, event_id)
    if row is None:
        return "missing"
    _, shipment = exactly_once.lock_with_order(session, Shipment, row.shipment_id)
    row = session.get(StoreFulfilmentEvent, event_id, with_for_update=True, populate_existing=True)
    if row.state != "pending":
        return row.state
    gate = _gate(shipment)
    shop = session.get(Shop, shipment.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "fulfilment_event", row.id, order_id=shipment.order_id):
        return skipped
    if gate == "wait":
        return "wait"
    if gate == "failed":
        row.state, row.last_error = "failed", "the shipment has no fulfilment in the store"
        _record(session, shop, shipment, "fulfilment.event_failed", {"event_row": row.id, "status": row.status,
                                                                     "reason": row.last_error})
        return "failed"
    row.attempts += 1
    _record(session, shop, shipment, "fulfilment.event_attempt",
            {"event_row": row.id, "status": row.status, "happened_at": row.happened_at.isoformat(),
             "attempt": row.attempts})
    return _job(session, shipment, row.attempts), row


def _call_event(job: _Job, status: str, happened_at: datetime, transport) -> tuple[str, Any, list[Call]]:
    calls: list[Call] = []
    try:
        with StoreClient(shop_domain=job.shop_domain, access_token=job.access_token, transport=transport) as client:
            calls = client.calls
            fulfillment = _fulfillment(client, job)
            if fulfillment is None:
                return "rejected", "fulfilment not found in the store", calls
            for node in (fulfillment.get("events") or {}).get("nodes") or []:
                if node.get("status") == status and _same_time(node.get("happenedAt"), happened_at):
                    return "found", node.get("id"), calls
            variables = {"event": {"fulfillmentId": job.fulfillment_id, "status": status,
                                   "happenedAt": happened_at.isoformat()}}
            created = client.graphql(EVENT_CREATE, variables).get("fulfillmentEventCreate") or {}
            if created.get("userErrors") or not created.get("fulfillmentEvent"):
                errors = "; ".join(str(e.get("message")) for e in created.get("userErrors") or [])
                return "rejected", (errors or "no event returned")[:500], calls
            return "pushed", created["fulfillmentEvent"].get("id"), calls
    except StoreTemporaryError as error:
        return "temporary", error.message, calls
    except StoreError as error:
        return "rejected", error.message, calls


def _finish_event(session: Session, event_id: int, outcome: str, value: Any, calls: list[Call]) -> str:
    row = session.get(StoreFulfilmentEvent, event_id)
    _, shipment = exactly_once.lock_with_order(session, Shipment, row.shipment_id)
    row = session.get(StoreFulfilmentEvent, event_id, with_for_update=True, populate_existing=True)
    shop = session.get(Shop, shipment.shop_id)
    facts = {"event_row": row.id, "status": row.status, "attempt": row.attempts,
             "calls": [call.as_data() for call in calls]}
    if outcome in ("pushed", "found"):
        row.state, row.store_event_id, row.last_error = "pushed", str(value), None
        _record(session, shop, shipment, "fulfilment.event_pushed",
                {**facts, "store_event_id": row.store_event_id, "adopted": outcome == "found"})
        return "pushed"
    row.last_error = str(value)
    if outcome == "rejected" or row.attempts >= MAX_ATTEMPTS:
        row.state = "failed"
        _record(session, shop, shipment, "fulfilment.event_failed", {**facts, "reason": row.last_error})
        return "failed"
    _record(session, shop, shipment, "fulfilment.event_call_failed", {**facts, "error": row.last_error})
    return "retry"


def push_event(event_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Create one fulfilment event in the store, once. Raises Busy / StoreTemporaryError to retry."""
    with exactly_once.advisory_lock(exactly_once.STORE_FULFILMENT_EVENT, event_id) as acquired:
        if not acquired:
            raise Busy(f"store event {event_id} is being pushed")
        with session_scope() as session:
            begun = _begin_event(session, event_id)
            if not isinstance(begun, str):
                job, row = begun
                status, happened_at = row.status, row.happened_at
        if begun == "wait":
            raise Busy(f"store event {event_id} waits for its fulfilment")
        if isinstance(begun, str):
            return begun
        outcome, value, calls = _call_event(job, status, happened_at, transport)
        with session_scope() as session:
            result = _finish_event(session, event_id, outcome, value, calls)
    if result == "retry":
        raise StoreTemporaryError(str(value))
    return result


def _call_tracking(job: _Job, tracking: dict[str, str], transport) -> tuple[str, Any, list[Call]]:
    calls: list[Call] = []
    try:
        with StoreClient(shop_domain=job.shop_domain, access_token=job.access_token, transport=transport) as client:
            calls = client.calls
            fulfillment = _fulfillment(client, job)
            if fulfillment is None:
                return "rejected", "fulfilment not found in the store", calls
            infos = fulfillment.get("trackingInfo") or []
            if any(i.get("number") == tracking["number"] and i.get("company") == tracking.get("company")
                   and i.get("url") == tracking.get("url") for i in infos):
                return "found", None, calls
            answer = client.graphql(TRACKING_UPDATE, {"id": job.fulfillment_id, "tracking": tracking})
            updated = answer.get("fulfillmentTrackingInfoUpdate") or {}
            if updated.get("userErrors") or not updated.get("fulfillment"):
                errors = "; ".join(str(e.get("message")) for e in updated.get("userErrors") or [])
                return "rejected", (errors or "no fulfilment returned")[:500], calls
            return "pushed", None, calls
    except StoreTemporaryError as error:
        return "temporary", error.message, calls
    except StoreError as error:
        return "rejected", error.message, calls


def update_tracking(shipment_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Bring the store fulfilment's tracking details in line with the shipment's, once."""
    with exactly_once.advisory_lock(exactly_once.STORE_TRACKING_UPDATE, shipment_id) as acquired:
        if not acquired:
            raise Busy(f"tracking of shipment {shipment_id} is being updated")
        with session_scope() as session:
            _, shipment = exactly_once.lock_with_order(session, Shipment, shipment_id)
            if shipment is None or shipment.store_tracking_synced:
                return "synced"
            gate = _gate(shipment)
            shop = session.get(Shop, shipment.shop_id)
            if skipped := guard.skipped_uninstalled(session, shop, "fulfilment_tracking", shipment.id,
                                                    order_id=shipment.order_id):
                return skipped
            if gate == "wait":
                raise Busy(f"shipment {shipment_id} has no fulfilment yet")
            if gate == "failed":
                shipment.store_tracking_synced = True  # no fulfilment will ever show it
                return "failed"
            tracking = tracking_details(shipment)
            _record(session, shop, shipment, "fulfilment.tracking_update_attempt", {"carrier": shipment.carrier})
            job = _job(session, shipment, 0)
        outcome, value, calls = _call_tracking(job, tracking, transport)
        with session_scope() as session:
            _, shipment = exactly_once.lock_with_order(session, Shipment, shipment_id)
            shop = session.get(Shop, shipment.shop_id)
            facts = {"calls": [call.as_data() for call in calls], "carrier": tracking.get("company")}
            if outcome in ("pushed", "found"):
                # Only if nothing changed again meanwhile; otherwise the queued rerun sends the newest.
                if tracking_details(shipment) == tracking:
                    shipment.store_tracking_synced = True
                _record(session, shop, shipment, "fulfilment.tracking_updated", {**facts, "adopted": outcome == "found"})
                return "pushed"
            if outcome == "rejected":
                shipment.store_tracking_synced = True
                _record(session, shop, shipment, "fulfilment.tracking_update_failed", {**facts, "reason": value})
                return "failed"
            _record(session, shop, shipment, "fulfilment.tracking_update_call_failed", {**facts, "error": value})
    raise StoreTemporaryError(str(value))
