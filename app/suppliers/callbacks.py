"""Supplier callbacks: recorded in one transaction on arrival, applied later by a task.

States only move forward (pending -> placed -> confirmed -> shipped): a late or repeated callback
is recorded in the ledger but changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.fulfilments import service as fulfilments
from app.notifications import service as notifications
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.suppliers import locks, ordering
from app.suppliers.events import advance_order, record_event
from app.suppliers.models import SupplierOrder
from app.webhooks.models import WebhookDelivery
from app.webhooks.signing import is_shop_domain

SOURCE = "supplier:generic"
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
    shop = session.get(Shop, so.shop_id) if so else None
    claimed = str(order_json.get("shop") or "").lower()
    domain = shop.domain if shop else (claimed if is_shop_domain(claimed) else "unknown")
    status = "queued" if so else "unknown_order"
    occurred_at = _time(payload.get("occurred_at"))
    if so is not None:
        # The ledger's foreign-key check would lock the order after the chain head; taking it
        # first (shared, cheap) keeps the lock order of every other writer.
        session.execute(select(Order.id).where(Order.id == so.order_id).with_for_update(key_share=True))
    delivery_id = session.scalar(
        insert(WebhookDelivery)
        .values(
            source=SOURCE,
            shop_domain=domain,
            shop_id=shop.id if shop else None,
            topic=payload["type"].strip(),
            event_id=payload["event_id"].strip(),
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
            "type": payload["type"],
            "event_id": payload["event_id"],
            "reference": reference,
            "external_id": order_json.get("id"),
            "supplier_status": order_json.get("status"),
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
    order, so = locks.lock_with_order(session, SupplierOrder, so_id)
    shop = session.get(Shop, so.shop_id)
    return HANDLERS[topic](session, shop, order, so, data, at)


def apply(session: Session, delivery: WebhookDelivery) -> str:
    """Apply one recorded callback; returns the delivery's new status (processed | ignored)."""
    handler = HANDLERS.get(delivery.topic)
    data = delivery.payload.get("order") or {}
    found = session.scalar(
        select(SupplierOrder).where(SupplierOrder.idempotency_key == data.get("reference"))
    )
    if handler is None or found is None:
        return "ignored"
    order, so = locks.lock_with_order(session, SupplierOrder, found.id)
    shop = session.get(Shop, so.shop_id)
    at = _time(delivery.payload.get("occurred_at")) or delivery.received_at or utcnow()
    return handler(session, shop, order, so, data, at)
