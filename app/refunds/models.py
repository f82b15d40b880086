from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Refund(TimestampMixin, Base):
    """One refund of one order: made in the store (by the merchant or another app), found by the
    history import, or requested by Dropguard (a resolution, a dispute, an alert).

    status: requested (ours, not yet accepted by the store) -> issued (the store accepted it and
    gave its refund id) -> confirmed (the store's refund record carries a successful refund
    transaction: refundCreate's answer, refunds/create, or a later read); failed (the store refused
    it, or its transaction failed). A confirmed refund never goes back; a failed one becomes
    confirmed if the store later shows that the money did go back.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_refunds_shop_id_order_id", "shop_id", "order_id"),
        # The reconcile job's scan: ours that the store accepted but has not confirmed yet.
        Index("ix_refunds_issued", "updated_at", postgresql_where=text("status = 'issued'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    # The store's refund id (legacy numeric id, as text); null until the store gives it.
    external_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    # What was asked (ours, until confirmed), then what the successful transactions returned.
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # One of app.refunds.reasons.REASONS.
    reason: Mapped[str] = mapped_column(String(24))
    # The store's note (the merchant's words, or ours with the idempotency marker).
    note: Mapped[str | None] = mapped_column(Text)
    # store (the merchant in the store admin, or another app) | resolution | dispute | alert
    issued_by: Mapped[str] = mapped_column(String(16))
    resolution_id: Mapped[int | None] = mapped_column(ForeignKey("resolutions.id"), index=True)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id"), index=True)
    # Ours only: derived from our ids, sent as @idempotent(key:) and in the note.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # [{"line_id": store line item id, "quantity": int, "amount": "12.00"}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    requested_at: Mapped[datetime | None]
    # The store's own time of the refund (processed_at, else created_at).
    refunded_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
