from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Shipment(TimestampMixin, Base):
    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("supplier_order_id", "tracking_number"),
        Index("ix_shipments_tracking_number", "tracking_number"),
        # The orders list's carrier choices and filter.
        Index("ix_shipments_shop_carrier", "shop_id", "carrier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    supplier_order_id: Mapped[int] = mapped_column(ForeignKey("supplier_orders.id"))
    tracking_number: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_url: Mapped[str | None] = mapped_column(String(1024))
    # One of app.tracking.statuses.Status; moves only as statuses.supersedes allows.
    status: Mapped[str] = mapped_column(String(24), default="info_received")
    # pending -> pushed (to the store as a fulfilment); failed with last_error
    store_status: Mapped[str] = mapped_column(String(16), default="pending")
    store_fulfillment_id: Mapped[str | None] = mapped_column(String(128))
    store_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    shipped_at: Mapped[datetime | None]
    pushed_at: Mapped[datetime | None]

    # Tracking (app.tracking): the provider's own words are kept next to our status as evidence.
    provider: Mapped[str | None] = mapped_column(String(16))
    raw_status: Mapped[str | None] = mapped_column(String(64))
    raw_sub_status: Mapped[str | None] = mapped_column(String(64))
    status_reason: Mapped[str | None] = mapped_column(String(32))
    # Source time of the scan that set the status: an older scan is recorded, never applied.
    status_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    first_scan_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    registered_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    destination_country: Mapped[str | None] = mapped_column(String(2))
    # The customer's estimate (route window learned from history, moved later when delayed).
    expected_from: Mapped[datetime | None]
    expected_by: Mapped[datetime | None]
    # e.g. ["invalid_number"]: a flagged shipment is not announced to the customer.
    flags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    # False while the store's fulfilment shows older tracking details than ours.
    store_tracking_synced: Mapped[bool] = mapped_column(default=True, server_default="true")


class StoreFulfilmentEvent(TimestampMixin, Base):
    """One fulfillmentEventCreate to make in the store, exactly once (adopted if its answer was lost)."""

    __tablename__ = "store_fulfilment_events"
    __table_args__ = (UniqueConstraint("shipment_id", "status", "happened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))  # FulfillmentEventStatus, e.g. IN_TRANSIT
    happened_at: Mapped[datetime]
    # pending -> pushed | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    store_event_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
