from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class StockChoice(TimestampMixin, Base):
    """The customer's choice when no supplier can fill some of an order's lines.

    status: asked (message sent, waiting for the customer) -> waiting (they wait for the restock)
    | refund_requested (they cancelled those items; the refund is asked of the store) -> refunded
    (the store confirmed it) | failed (the store refused the refund; last_error says why).
    One per order: the question is asked once, and the first answer is the one carried out.
    """

    __tablename__ = "stock_choices"
    __table_args__ = (
        Index("uq_stock_choices_order_id", "order_id", unique=True),
        # Home's "needs attention" and the order panel read the open ones of a shop.
        Index("ix_stock_choices_open", "shop_id", postgresql_where=text("status IN ('asked', 'failed')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    status: Mapped[str] = mapped_column(String(24), default="asked")
    # The order lines no supplier can fill, and what they cost the customer.
    line_ids: Mapped[list[int]] = mapped_column(JSONB, default=list)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # Why the last supplier refused (out_of_stock, rejected…): for the merchant, never the customer.
    supplier_reason: Mapped[str | None] = mapped_column(String(64))
    # wait | cancel, once chosen.
    choice: Mapped[str | None] = mapped_column(String(16))
    chosen_at: Mapped[datetime | None]
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    last_error: Mapped[str | None] = mapped_column(Text)
