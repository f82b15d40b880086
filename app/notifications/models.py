from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Notification(TimestampMixin, Base):
    __tablename__ = "notifications"
    # At most one message per stage per order and channel.
    __table_args__ = (UniqueConstraint("order_id", "stage", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    # order_confirmed | shipped | ...
    stage: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # pending -> sending (attempt claimed and committed) -> sent; back to pending after a transient
    # error; failed (last_error) after the last retry or a permanent refusal; skipped (last_error
    # holds the reason) when there is nobody to write to.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Stable per notification so that a retried send can be recognised by the receiving side.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str | None] = mapped_column(String(512))
    body_digest: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
