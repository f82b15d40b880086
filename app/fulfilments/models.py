from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Shipment(TimestampMixin, Base):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("supplier_order_id", "tracking_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    supplier_order_id: Mapped[int] = mapped_column(ForeignKey("supplier_orders.id"))
    tracking_number: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_url: Mapped[str | None] = mapped_column(String(1024))
    # label_created | in_transit | delivered | ...
    status: Mapped[str] = mapped_column(String(24), default="info_received")
    # pending -> pushed (to the store as a fulfilment); failed with last_error
    store_status: Mapped[str] = mapped_column(String(16), default="pending")
    store_fulfillment_id: Mapped[str | None] = mapped_column(String(128))
    store_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    shipped_at: Mapped[datetime | None]
    pushed_at: Mapped[datetime | None]
