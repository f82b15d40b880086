from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class PrivacyRequest(TimestampMixin, Base):
    """A customer's data request or erasure request, from its compliance webhook to completion.

    The customer's identifiers are read from the webhook delivery (`delivery_id`) when the request
    is carried out, so this row itself holds no personal data; only `export` does, until it
    expires or the customer is redacted.
    """

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    # customer_data_request | customer_redact
    kind: Mapped[str] = mapped_column(String(32))
    # pending -> done; customer_redact may wait as held (open dispute) before pending
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # Shopify's data_request.id, shown to the merchant so they can match the request.
    external_request_id: Mapped[str | None] = mapped_column(String(64))
    export: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    export_sha256: Mapped[str | None] = mapped_column(String(64))
    export_expires_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
