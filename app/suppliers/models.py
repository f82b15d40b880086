from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Supplier(TimestampMixin, Base):
    __tablename__ = "suppliers"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    # Which adapter speaks to it: "generic" (signed JSON API), "aliexpress" or "cj".
    protocol: Mapped[str] = mapped_column(String(32), default="generic")
    is_default: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class SupplierOrder(TimestampMixin, Base):
    # One per (order, supplier) and per fallback hop: the idempotency key says which.
    __tablename__ = "supplier_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    # Sent to the supplier as our reference; the same on every attempt.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # pending -> placed -> confirmed -> shipped; or failed / cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    external_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    placed_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    # Fallback: the supplier order (out of stock / refused) whose lines this one takes over.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_orders.id"))
    # Polling of suppliers without order webhooks (AliExpress): when next, and how many so far.
    poll_after: Mapped[datetime | None]
    polls: Mapped[int] = mapped_column(default=0, server_default="0")
