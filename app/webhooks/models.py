from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class WebhookDelivery(Base):
    """The inbox: one row per distinct event from a source, whatever its fate."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "shop_domain", "event_id"),
        # The inbox reaper (app/outbox/maintenance.py) looks only at what is still waiting.
        Index("ix_webhook_deliveries_queued", "received_at", postgresql_where=text("status = 'queued'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    shop_domain: Mapped[str] = mapped_column(String(255))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    topic: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(255))
    webhook_id: Mapped[str | None] = mapped_column(String(255))
    api_version: Mapped[str | None] = mapped_column(String(32))
    triggered_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # received | processed | ignored | unknown_shop | failed
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
