"""customers/data_request: everything we hold on one customer, as one JSON document for the merchant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from app.disputes.models import Dispute
from app.evidence import canonical
from app.evidence.models import EvidenceEvent
from app.fulfilments.models import Shipment
from app.insights import messages as customer_messages
from app.notifications.models import Notification
from app.orders.models import DeliveryAddress, OrderLine
from app.privacy import uploads
from app.privacy.subjects import Subject, deliveries
from app.shops.models import Shop
from app.suppliers.models import SupplierOrder
from app.webhooks.models import WebhookDelivery

FORMAT_VERSION = 1


def _columns(row: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key not in skip and not isinstance(getattr(row, column.key), bytes)
    }


def _by_order(rows: list[Any]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.order_id, []).append(_columns(row, skip=("shop_id", "order_id")))
    return grouped


def _rows(session: Session, model: Any, shop: Shop, order_ids: list[int]) -> list[Any]:
    if not order_ids:
        return []
    return list(
        session.scalars(
            select(model).where(model.shop_id == shop.id, model.order_id.in_(order_ids)).order_by(model.id)
        )
    )


def _evidence(event: EvidenceEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "kind": event.kind,
        "source": event.source,
        "order_id": event.order_id,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "data": event.data,
        "personal": event.personal,
        "hash": event.hash,
    }


def build(session: Session, shop: Shop, subject: Subject, *, request: dict[str, Any]) -> dict[str, Any]:
    """The export document (JSON-ready: dates as ISO strings, amounts as strings)."""
    order_ids = subject.order_ids
    lines = _by_order(_rows(session, OrderLine, shop, order_ids))
    supplier_orders = _by_order(_rows(session, SupplierOrder, shop, order_ids))
    shipments = _by_order(_rows(session, Shipment, shop, order_ids))
    notifications = _by_order(_rows(session, Notification, shop, order_ids))
    disputes = _by_order(_rows(session, Dispute, shop, order_ids))
    resolutions = uploads.export(session, shop, order_ids)
    messages = customer_messages.export_for_orders(session, shop.id, order_ids)
    addresses = {
        a.order_id: _columns(a, skip=("shop_id", "order_id"))
        for a in (
            session.scalars(
                select(DeliveryAddress).where(
                    DeliveryAddress.shop_id == shop.id, DeliveryAddress.order_id.in_(order_ids)
                )
            )
            if order_ids
            else []
        )
    }
    conditions = []
    if order_ids:
        conditions.append(EvidenceEvent.order_id.in_(order_ids))
    pattern = subject.json_pattern()
    if pattern:
        conditions.append(cast(EvidenceEvent.personal, String).op("~*")(pattern))
    events = (
        list(
            session.scalars(
                select(EvidenceEvent)
                .where(EvidenceEvent.chain == shop.domain, or_(*conditions))
                .order_by(EvidenceEvent.seq)
            )
        )
        if conditions
        else []
    )
    payload_ids = deliveries(session, shop, subject)
    payloads = (
        session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(payload_ids)).order_by(WebhookDelivery.id)
        )
        if payload_ids
        else []
    )
    orders = []
    for order in subject.orders:
        orders.append(
            {
                **_columns(order, skip=("shop_id",)),
                "lines": lines.get(order.id, []),
                "delivery_address": addresses.get(order.id),
                "supplier_orders": supplier_orders.get(order.id, []),
                "shipments": shipments.get(order.id, []),
                "notifications": notifications.get(order.id, []),
                "disputes": disputes.get(order.id, []),
                "resolutions": resolutions.get(order.id, []),
                # What they wrote to the shop (contact form, e-mail) and how it was read.
                "messages": messages.get(order.id, []),
            }
        )
    document = {
        "format": "dropguard.customer_data_export",
        "version": FORMAT_VERSION,
        "shop": shop.domain,
        "request": request,
        "customers": [_columns(c, skip=("shop_id",)) for c in subject.customers],
        "orders": orders,
        "evidence_events": [_evidence(e) for e in events],
        "webhook_payloads": [
            {"id": d.id, "topic": d.topic, "received_at": d.received_at, "payload": d.payload}
            for d in payloads
        ],
    }
    return canonical.normalise(document)
