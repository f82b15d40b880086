from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Resolution(TimestampMixin, Base):
    """One problem a customer reported about one order, and what became of it.

    status: offered (remedies within policy shown to the customer) -> approved (remedy accepted
    within policy, or by the merchant; being carried out) -> completed; pending_review (the
    merchant's queue: outside policy or the customer asked the shop) -> approved | denied;
    awaiting_return (return first: the merchant confirms the return, then the refund runs);
    failed (the store or supplier refused for good; last_error says why, visible in the queue).
    A refund remedy stays approved until the store confirms its refund (app.refunds, linked by
    resolution_id), then completes.
    """

    __tablename__ = "resolutions"
    __table_args__ = (
        Index("ix_resolutions_order_id", "order_id"),
        # A supplier order's answer asks whether it is a claim's reship (app/resolutions/reships.py).
        Index("ix_resolutions_reship_supplier_order_id", "reship_supplier_order_id",
              postgresql_where=text("reship_supplier_order_id IS NOT NULL")),
        # The merchant's queue: open items of one shop, oldest first.
        Index(
            "ix_resolutions_queue",
            "shop_id",
            "created_at",
            postgresql_where=text("status IN ('pending_review', 'awaiting_return', 'failed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    # not_received | damaged | not_as_described | wrong_item | changed_mind
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), default="offered")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # The customer's own words: personal, cleared with the customer's other data on redaction.
    message: Mapped[str | None] = mapped_column(Text)
    # [{"name": random stored name, "type": "image/jpeg", "size": int, "sha256": hex}]
    photos: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # [{"remedy": ..., "amount": "12.00" | None, "auto": bool}] as computed from the policy.
    offers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    policy_version: Mapped[str] = mapped_column(String(32))
    policy_digest: Mapped[str] = mapped_column(String(64))
    # reship | partial_refund | store_credit | full_refund | return_first
    remedy: Mapped[str | None] = mapped_column(String(24))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # customer (accepted an offer within policy) | merchant
    decided_by: Mapped[str | None] = mapped_column(String(16))
    merchant_note: Mapped[str | None] = mapped_column(Text)
    reship_supplier_order_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_orders.id"))
    last_error: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
