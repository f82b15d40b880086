"""Shared by the tracking tests: shipments on paid orders, and signed carrier webhooks built from the
sandbox emulators' own parcel documents (so the bodies are the ones the emulators send)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_sessionmaker, utcnow
from app.fulfilments import service as fulfilments
from app.fulfilments.models import Shipment
from app.notifications.models import Notification
from app.orders.models import Order
from app.sandbox import carrier_life as life
from app.shops.models import Shop
from app.tracking.aggregators import aftership, seventeentrack
from app.tracking.models import ShipmentAlert
from tests.suppliers.helpers import hold_outbox, planned

# Valid numbers (check digits right) that differ per test.
S10_SERIALS = ("12345678", "87654321", "11223344", "55667788", "99887766", "24681357", "13572468")


def s10(serial: str, country: str = "CN") -> str:
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    check = 11 - sum(int(d) * w for d, w in zip(serial, weights, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"LX{serial}{check}{country}"


def fresh_number() -> str:
    serial = str(uuid.uuid4().int % 10**8).zfill(8)
    return s10(serial)


def shipment_for(db: Session, shop: Shop, *, number: str | None = None, shipped_at: datetime | None = None,
                 carrier: str | None = "China Post") -> tuple[Order, Shipment]:
    """A paid order with a supplier order and one shipment; its outbox work held back."""
    order, so = planned(db, shop)
    order = db.get(Order, order.id)
    shipment = fulfilments.create_shipment(
        db, shop=shop, order=order, supplier_order_id=so.id, tracking_number=number or fresh_number(),
        carrier=carrier, tracking_url=None, shipped_at=shipped_at or utcnow(),
    )
    order.status = "shipped"
    hold_outbox(db)
    db.commit()
    return order, shipment


def parcel(provider: str, number: str, steps: list[tuple[str, datetime]]) -> dict[str, Any]:
    return {"provider": provider, "number": number, "carrier": 3011, "slug": "china-post", "id": uuid.uuid4().hex,
            "steps": [[name, at.isoformat()] for name, at in steps], "stopped": False,
            "registered_at": utcnow().isoformat(), "order_id": None, "custom_fields": None, "tag": None,
            "param": None}


def journey(start: datetime, names: list[str], every: timedelta = timedelta(days=1)) -> list[tuple[str, datetime]]:
    start = start.replace(microsecond=0)  # carriers report whole seconds
    return [(name, start + every * (i + 1)) for i, name in enumerate(names)]


def seventeentrack_webhook(number: str, steps: list[tuple[str, datetime]], *, key: str | None = None
                           ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event": "TRACKING_UPDATED",
                       "data": life.seventeentrack_item(parcel("17track", number, steps))}).encode()
    sign = seventeentrack.sign(body, key or get_settings().seventeentrack_webhook_key)
    return body, {"Content-Type": "application/json", seventeentrack.SIGN_HEADER: sign}


def aftership_webhook(number: str, steps: list[tuple[str, datetime]], *, secret: str | None = None
                      ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event": "tracking_update", "event_id": str(uuid.uuid4()), "is_tracking_first_tag": False,
                       "msg": life.aftership_tracking(parcel("aftership", number, steps)), "ts": 0}).encode()
    sign = aftership.sign(body, secret or get_settings().aftership_webhook_secret)
    return body, {"Content-Type": "application/json", aftership.HMAC_HEADER: sign}


def reload(shipment_id: int) -> Shipment:
    with get_sessionmaker()() as session:
        return session.get(Shipment, shipment_id)


def notifications_of(order_id: int, stage: str | None = None) -> list[Notification]:
    with get_sessionmaker()() as session:
        query = select(Notification).where(Notification.order_id == order_id)
        if stage:
            query = query.where(Notification.stage == stage)
        return list(session.scalars(query))


def alerts_of(shipment_id: int) -> list[ShipmentAlert]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(ShipmentAlert).where(ShipmentAlert.shipment_id == shipment_id)
                                    .order_by(ShipmentAlert.id)))
