"""Expected delivery windows per route (supplier x destination country x carrier), learned from history.

The window is (typical, late) days from shipped to delivered: the median and the 90th percentile of
the route's last deliveries, once it has MIN_POINTS of them; the configured default before that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.fulfilments.models import Shipment
from app.orders.models import DeliveryAddress
from app.suppliers.models import SupplierOrder

MIN_POINTS = 5
HISTORY = 200  # the route's last N deliveries: recent enough to follow a carrier's change of pace


@dataclass(frozen=True)
class Window:
    typical_days: float
    late_days: float
    points: int  # deliveries it was learned from; 0 = the default

    @property
    def learned(self) -> bool:
        return self.points >= MIN_POINTS

    def dates(self, shipped_at: datetime) -> tuple[datetime, datetime]:
        return shipped_at + timedelta(days=self.typical_days), shipped_at + timedelta(days=self.late_days)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def default_window() -> Window:
    typical, late = get_settings().tracking_window_days
    return Window(float(typical), float(max(late, typical)), 0)


def route_of(session: Session, shipment: Shipment) -> tuple[int, str | None, str | None]:
    supplier_id = session.scalar(select(SupplierOrder.supplier_id).where(SupplierOrder.id == shipment.supplier_order_id))
    country = shipment.destination_country or session.scalar(
        select(DeliveryAddress.country_code).where(DeliveryAddress.order_id == shipment.order_id)
    )
    return supplier_id, country, shipment.carrier


def window_for_route(session: Session, *, shop_id: int, supplier_id: int, country: str | None,
                     carrier: str | None) -> Window:
    query = (
        select(Shipment.shipped_at, Shipment.delivered_at)
        .join(SupplierOrder, SupplierOrder.id == Shipment.supplier_order_id)
        .where(
            Shipment.shop_id == shop_id,
            SupplierOrder.supplier_id == supplier_id,
            Shipment.delivered_at.is_not(None),
            Shipment.shipped_at.is_not(None),
            Shipment.destination_country.is_(None) if country is None else Shipment.destination_country == country,
            Shipment.carrier.is_(None) if carrier is None else Shipment.carrier == carrier,
        )
        .order_by(Shipment.delivered_at.desc())
        .limit(HISTORY)
    )
    days = [
        max((delivered - shipped).total_seconds() / 86400, 0.0)
        for shipped, delivered in session.execute(query)
    ]
    if len(days) < MIN_POINTS:
        return default_window()
    return Window(round(percentile(days, 0.5), 2), round(percentile(days, 0.9), 2), len(days))


def window_for(session: Session, shipment: Shipment) -> Window:
    supplier_id, country, carrier = route_of(session, shipment)
    return window_for_route(session, shop_id=shipment.shop_id, supplier_id=supplier_id, country=country,
                            carrier=carrier)


def set_estimate(session: Session, shipment: Shipment) -> Window:
    """Give a new shipment its customer estimate from its route's window."""
    window = window_for(session, shipment)
    if shipment.shipped_at is not None:
        shipment.expected_from, shipment.expected_by = window.dates(shipment.shipped_at)
    return window


def later_estimate(shipment: Shipment, window: Window, now: datetime) -> tuple[datetime, datetime]:
    """An honest new estimate for a late or stalled parcel: never earlier than the old one, never in
    the past, and as wide as the route's own spread (at least four days)."""
    spread = timedelta(days=max(window.late_days - window.typical_days, 4.0))
    start = max(shipment.expected_from or now, now + timedelta(days=3))
    end = max(shipment.expected_by or start, start + spread)
    return start, end
