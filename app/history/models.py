from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class HistoryImport(TimestampMixin, Base):
    """One shop's import: where it stands (the cursor of the next page) and what it has counted.

    One row per shop; a new `--since` or a finished import starts over from the first page."""

    __tablename__ = "history_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), unique=True)
    # pending | running | completed | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    since: Mapped[datetime]
    # The endCursor of the last page fully stored: the next run continues after it.
    cursor: Mapped[str | None] = mapped_column(String(512))
    orders_total: Mapped[int | None]
    orders_seen: Mapped[int] = mapped_column(default=0)
    orders_imported: Mapped[int] = mapped_column(default=0)
    # Refunds are stored in app.refunds (every refund of an order, one table); counted here.
    refunds: Mapped[int] = mapped_column(default=0)
    fulfillments: Mapped[int] = mapped_column(default=0)
    # Disputes are stored in app.disputes (the table the privacy rules read); counted here.
    disputes: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class HistoryFulfillment(Base):
    __tablename__ = "history_fulfillments"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))
    display_status: Mapped[str | None] = mapped_column(String(32))
    tracking_company: Mapped[str | None] = mapped_column(String(128))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    fulfilled_at: Mapped[datetime]

