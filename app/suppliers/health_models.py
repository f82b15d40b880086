"""Supplier health tables: orders held while a supplier is down, and SLA breaches found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SupplierQueueEntry(Base):
    """A pending supplier order held back (circuit open, or earlier orders still waiting).

    Released in supplier order id order, one at a time, so orders reach a recovered supplier in
    the order they were paid.
    """

    __tablename__ = "supplier_queue"

    supplier_order_id: Mapped[int] = mapped_column(
        ForeignKey("supplier_orders.id", ondelete="CASCADE"), primary_key=True
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[datetime]


class SupplierSlaBreach(Base):
    """One SLA condition broken by one supplier order; the unique key makes detection once-only."""

    __tablename__ = "supplier_sla_breaches"
    __table_args__ = (UniqueConstraint("supplier_order_id", "condition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    supplier_order_id: Mapped[int] = mapped_column(ForeignKey("supplier_orders.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    condition: Mapped[str] = mapped_column(String(16))  # confirm | ship | tracking
    due_at: Mapped[datetime]
    detected_at: Mapped[datetime]
