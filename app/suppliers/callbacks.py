"""Supplier callbacks: recorded in one transaction on arrival, applied later by a task.

States only move forward (pending -> placed -> confirmed -> shipped): a late or repeated callback
is recorded in the ledger but changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.fulfilments import service as fulfilments
from app.fulfilments.models import Shipment
from app.notifications import service as notifications
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.domains import is_shop_domain
from app.shops.models import Shop
from app.suppliers import ordering
from app.suppliers.adapters import cj as cj_adapter
from app.suppliers.adapters.base import WebhookUpdate
from app.suppliers.events import advance_order, record_event
from app.suppliers.models import SupplierOrder
from app.suppliers.protocols.cj import parse_time as cj_time
from app.webhooks.models import WebhookDelivery

SOURCE = "supplier:generic"
CJ_SOURCE = "supplier:cj"
CALLBACK_TASK = "suppliers.process_callback"
PUSH_TASK = "fulfilments.push_to_store"
EVENT_TYPES = frozenset({"order.confirmed", "order.shipped", "order.cancelled"})


class BadCallback(AppError):
    code = "bad_callback"


@dataclass(frozen=True)
class CallbackResult:
    delivery_id: int | None
    status: str  # queued | unknown_order | duplicate


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadCallback(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise BadCallback(f"{name} is longer than {limit} characters")
    return value.strip()


def validate(payload: Any) -> dict[str, Any]:
    """The decoded body as a callback, or BadCallback naming what is wrong with it."""
    if not isinstance(payload, dict):
        raise BadCallback("body must be a JSON object")
    _text(payload.get("event_id"), "event_id", 255)
    _text(payload.get("type"), "type", 128)
    order = payload.get("order")
    if not isinstance(order, dict):
        raise BadCallback("order must be an object")
    _text(order.get("reference"), "order.reference", 64)
    if payload.get("occurred_at") is not None and _time(payload["occurred_at"]) is None:
        raise BadCallback("occurred_at must be an ISO-8601 timestamp with a time zone")
    return payload


def record_callback(session: Session, payload: dict[str, Any], body: bytes) -> CallbackResult:
    """Delivery, evidence and outbox row in the caller's transaction; duplicates change nothing."""
    order_json = payload["order"]
    reference = order_json["reference"].strip()
    so = session.scalar(select(SupplierOrder).where(SupplierOrder.idempotency_key == reference))
    return _store(session, SOURCE, so, claimed=str(order_json.get("shop") or "").lower(),
                  topic=payload["type"].strip(), event_id=payload["event_id"].strip(),
                  occurred_at=_time(payload.get("occurred_at")), payload=payload, body=body,
                  data={"type": payload["type"], "event_id": payload["event_id"], "reference": reference,
                        "external_id": order_json.get("id"), "supplier_status": order_json.get("status")})


def find_supplier_order(session: Session, reference: str | None, external_id: str | None) -> SupplierOrder | None:
    """By our reference, else by the supplier's id (a CJ LOGISTIC message may carry only that)."""
    if reference:
        so = session.scalar(select(SupplierOrder).where(SupplierOrder.idempotency_key == reference))
        if so is not None:
            return so
    if external_id:
        return session.scalar(select(SupplierOrder).where(SupplierOrder.external_id == external_id)
                              .order_by(SupplierOrder.id.desc()).limit(1))
    return None


def record_cj(session: Session, update: WebhookUpdate, payload: dict[str, Any], body: bytes) -> CallbackResult:
    """A verified CJ message, recorded exactly like a generic callback (deduped on messageId)."""
    so = find_supplier_order(session, update.reference, update.external_id)
    return _store(session, CJ_SOURCE, so, claimed="", topic=f"cj.{update.topic}"[:128], event_id=update.event_id[:255],
                  occurred_at=None, payload=payload, body=body,
                  data={"type": f"cj.{update.topic}", "event_id": update.event_id, "reference": update.reference,
                        "external_id": update.external_id, "supplier_status": update.raw_status})


def _store(session: Session, source: str, so: SupplierOrder | None, *, claimed: str, topic: str, event_id: str,
           occurred_at: datetime | None, payload: dict[str, Any], body: bytes,
           data: dict[str, Any]) -> CallbackResult:
    shop = session.get(Shop, so.shop_id) if so else None
    domain = shop.domain if shop else (claimed if is_shop_domain(claimed) else "unknown")
    status = "queued" if so else "unknown_order"
    if so is not None:
        # The ledger's foreign-key check would lock the order after the chain head; taking it
        # first (shared, cheap) keeps the lock order of every other writer.
        session.execute(select(Order.id).where(Order.id == so.order_id).with_for_update(key_share=True))
    delivery_id = session.scalar(
        insert(WebhookDelivery)
        .values(
            source=source,
            shop_domain=domain,
            shop_id=shop.id if shop else None,
            topic=topic,
            event_id=event_id,
            triggered_at=occurred_at,
            payload=payload,
            status=status,
        )
        .on_conflict_do_nothing(index_elements=["source", "shop_domain", "event_id"])
        .returning(WebhookDelivery.id)
    )
    if delivery_id is None:
        return CallbackResult(None, "duplicate")
    evidence.record(
        session,
        chain=domain,
        shop_id=shop.id if shop else None,
        order_id=so.order_id if so else None,
        kind="supplier.callback_received",
        source="supplier",
        occurred_at=occurred_at,
        data={
            **data,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_bytes": len(body),
            "signature": "verified",
            "delivery_status": status,
        },
        webhook_delivery_id=delivery_id,
    )
    if so is not None:
        enqueue(session, CALLBACK_TASK, delivery_id)
    session.flush()
    return CallbackResult(delivery_id, status)


def _not_applied(session: Session, shop: Shop, so: SupplierOrder, kind: str, why: str) -> str:
    record_event(
        session,
        shop,
        so,
        "supplier_order.callback_not_applied",
        {"type": kind, "reason": why},
        source="supplier",
    )
    return "processed"


def _confirmed(
    session: Session, shop: Shop, order: Order, so: SupplierOrder, data: dict, at: datetime
) -> str:
    so.external_id = so.external_id or str(data.get("id") or "") or None
    if so.status not in ("pending", "placed"):
        if so.status == "cancelling":  # a fact worth keeping: a refused cancel falls back to it
            so.confirmed_at = so.confirmed_at or at
        return _not_applied(session, shop, so, "order.confirmed", f"supplier order is already {so.status}")
    so.status, so.confirmed_at = "confirmed", at
    advance_order(order, "supplier_ordered")
    record_event(
        session,
        shop,
        so,
        "supplier_order.confirmed",
        {"external_id": so.external_id, "order_status": order.status},
        source="supplier",
        occurred_at=at,
    )
    # The customer hears the order is being prepared as soon as the supplier has it, unless its
    # tracking is already known (the shipped message says more); schedule() keeps it to one.
    tracked = session.scalar(select(exists().where(Shipment.order_id == order.id)))
    if order.status != "cancelled" and not tracked:
        notifications.schedule(session, order, stage="processing")
    return "processed"


def _shipped(session: Session, shop: Shop, order: Order, so: SupplierOrder, data: dict, at: datetime) -> str:
    tracking_number = str(data.get("tracking_number") or "").strip()
    if not tracking_number:
        raise BadCallback("order.shipped without a tracking_number")
    shipped_at = _time(data.get("shipped_at")) or at
    # Goods that left the warehouse are a fact, whatever we believed before (even a cancel).
    previous = so.status
    so.external_id = so.external_id or str(data.get("id") or "") or None
    so.status, so.shipped_at = "shipped", so.shipped_at or shipped_at
    shipment = fulfilments.create_shipment(
        session,
        shop=shop,
        order=order,
        supplier_order_id=so.id,
        tracking_number=tracking_number,
        carrier=data.get("carrier"),
        tracking_url=data.get("tracking_url"),
        shipped_at=shipped_at,
    )
    if shipment is None:
        return _not_applied(
            session, shop, so, "order.shipped", f"tracking number {tracking_number} already known"
        )
    moved = advance_order(order, "shipped")
    record_event(
        session,
        shop,
        so,
        "supplier_order.shipped",
        {
            "external_id": so.external_id,
            "previous_status": previous,
            "shipment_id": shipment.id,
            "tracking_number": tracking_number,
            "order_status": order.status,
        },
        source="supplier",
        occurred_at=at,
    )
    if order.status == "cancelled":
        return "processed"  # recorded; a cancelled order is not fulfilled in the store nor announced
    enqueue(session, PUSH_TASK, shipment.id)
    # An invalid tracking number is held back (flagged, merchant alerted) until it is corrected.
    if moved and fulfilments.announceable(shipment):
        notifications.schedule(session, order, stage="shipped")
    return "processed"


def _cancelled(
    session: Session, shop: Shop, order: Order, so: SupplierOrder, data: dict, at: datetime
) -> str:
    if so.status in ("shipped", "cancelled"):
        return _not_applied(session, shop, so, "order.cancelled", f"supplier order is already {so.status}")
    previous, so.status = so.status, "cancelled"
    so.external_id = so.external_id or str(data.get("id") or "") or None
    record_event(
        session,
        shop,
        so,
        "supplier_order.cancelled",
        {"by": "supplier", "previous_status": previous, "external_id": so.external_id},
        source="supplier",
        occurred_at=at,
    )
    if previous != "cancelling" and order.status != "cancelled":
        # The supplier dropped an order we still want: the next mapped supplier takes its lines.
        ordering.fall_back(session, shop, order, so, "cancelled_by_supplier")
    return "processed"


HANDLERS = {"order.confirmed": _confirmed, "order.shipped": _shipped, "order.cancelled": _cancelled}


def apply_change(session: Session, so_id: int, topic: str, data: dict[str, Any], at: datetime) -> str:
    """Apply one change learnt from a supplier (callback, CJ webhook, poll) to a supplier order.

    `data` has the generic order JSON's keys (id, tracking_number, carrier, tracking_url, shipped_at).
    """
    order, so = exactly_once.lock_with_order(session, SupplierOrder, so_id)
    shop = session.get(Shop, so.shop_id)
    return HANDLERS[topic](session, shop, order, so, data, at)


def _cj_change(update: WebhookUpdate) -> tuple[str, dict[str, Any]] | None:
    """A CJ message as one of our handler topics with generic order keys; None: nothing to apply."""
    data: dict[str, Any] = {"id": update.external_id}
    if update.state in ("shipped", "delivered") and update.parcel is not None:
        parcel = update.parcel
        return "order.shipped", {**data, "tracking_number": parcel.tracking_number, "carrier": parcel.carrier,
                                 "tracking_url": parcel.tracking_url}
    if update.state == "confirmed":
        return "order.confirmed", data
    if update.state == "cancelled":
        return "order.cancelled", data
    return None


def apply(session: Session, delivery: WebhookDelivery) -> str:
    """Apply one recorded callback; returns the delivery's new status (processed | ignored)."""
    if delivery.source == CJ_SOURCE:
        update = cj_adapter.to_update(json.dumps(delivery.payload).encode())
        change = _cj_change(update)
        found = find_supplier_order(session, update.reference, update.external_id)
        if change is None or found is None:
            return "ignored"
        at = update_time(delivery) or utcnow()
        return apply_change(session, found.id, change[0], change[1], at)
    handler = HANDLERS.get(delivery.topic)
    data = delivery.payload.get("order") or {}
    found = session.scalar(
        select(SupplierOrder).where(SupplierOrder.idempotency_key == data.get("reference"))
    )
    if handler is None or found is None:
        return "ignored"
    order, so = exactly_once.lock_with_order(session, SupplierOrder, found.id)
    shop = session.get(Shop, so.shop_id)
    at = _time(delivery.payload.get("occurred_at")) or delivery.received_at or utcnow()
    return handler(session, shop, order, so, data, at)


def update_time(delivery: WebhookDelivery) -> datetime | None:
    params = delivery.payload.get("params") if isinstance(delivery.payload, dict) else None
    moment = cj_time(params.get("updateDate")) if isinstance(params, dict) else None
    return moment or delivery.received_at
