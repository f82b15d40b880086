"""Carrier webhooks (17TRACK, AfterShip): recorded in one transaction on arrival, applied by a task.

The inbox row, its evidence event and its outbox row commit together (ARCHITECTURE spine 1). A
number no shipment carries is recorded (status unknown_number, chain "unknown") and never applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.tracking import service
from app.tracking.aggregators import TrackingUpdate, aftership, seventeentrack
from app.webhooks.models import WebhookDelivery

PROCESS_TASK = "tracking.process_delivery"
UNKNOWN_CHAIN = "unknown"
PARSERS = {"17track": seventeentrack.parse_webhook, "aftership": aftership.parse_webhook}


@dataclass(frozen=True)
class IngestResult:
    delivery_id: int | None
    status: str  # queued | unknown_number | duplicate


def event_id_for(update: TrackingUpdate, body: bytes) -> str:
    # AfterShip names each delivery; 17TRACK does not, and resends the same body: its hash is the id.
    return update.event_id or "sha256:" + hashlib.sha256(body).hexdigest()


def record_delivery(session: Session, provider: str, update: TrackingUpdate, payload: dict[str, Any],
                    body: bytes) -> IngestResult:
    """Delivery + evidence + outbox row in the caller's transaction; a duplicate changes nothing."""
    shipments = service.shipments_for_number(session, update.number)
    shipment = shipments[0] if shipments else None
    shop = session.get(Shop, shipment.shop_id) if shipment else None
    status = "queued" if shop else "unknown_number"
    domain = shop.domain if shop else UNKNOWN_CHAIN
    if shipment is not None:
        # Same lock order as every ledger writer for this order (app.exactly_once).
        session.execute(select(Order.id).where(Order.id == shipment.order_id).with_for_update(key_share=True))
    delivery_id = session.scalar(
        insert(WebhookDelivery)
        .values(source=provider, shop_domain=domain, shop_id=shop.id if shop else None,
                topic=(update.event or "tracking_update")[:128], event_id=event_id_for(update, body)[:255],
                triggered_at=update.latest_event.time if update.latest_event else None, payload=payload,
                status=status)
        .on_conflict_do_nothing(index_elements=["source", "shop_domain", "event_id"])
        .returning(WebhookDelivery.id)
    )
    if delivery_id is None:
        return IngestResult(None, "duplicate")
    evidence.record(
        session, chain=domain, shop_id=shop.id if shop else None,
        order_id=shipment.order_id if shipment else None, kind="tracking.webhook_received", source=provider,
        data={"event": update.event, "tracking_number": update.number,
              "shipment_id": shipment.id if shipment else None,
              "status": update.latest.status.value if update.latest else None,
              "raw_status": update.latest.raw_status if update.latest else None,
              "raw_sub_status": update.latest.raw_sub_status if update.latest else None,
              "body_sha256": hashlib.sha256(body).hexdigest(), "body_bytes": len(body),
              "signature": "verified", "delivery_status": status},
        webhook_delivery_id=delivery_id,
    )
    if status == "queued":
        enqueue(session, PROCESS_TASK, delivery_id)
    session.flush()
    return IngestResult(delivery_id, status)


def process_delivery(session: Session, delivery_id: int, *, now=None) -> str:
    """Apply one recorded carrier webhook to every shipment with its number. Safe to run twice."""
    delivery = session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(key_share=True)
    )
    if delivery is None or delivery.status != "queued" or delivery.source not in PARSERS:
        return "skipped"
    update = PARSERS[delivery.source](delivery.payload)
    shipments = service.shipments_for_number(session, update.number)
    outcomes = [service.apply_scan(session, shipment, update.latest, update.events, delivery.source, now=now)
                for shipment in shipments]
    delivery.status = "processed" if shipments else "unknown_number"
    delivery.processed_at = utcnow()
    return ",".join(outcomes) or "unknown_number"
