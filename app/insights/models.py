"""Insights read models: one fact row per order, the aggregates built from them, and the customer
messages with their classification.

The aggregates are maintained incrementally: when an order's facts change, its old contribution
(kept on its fact row) is subtracted from every aggregate row it touched and the new one added, in
the same transaction, so a page reads a few hundred aggregate rows instead of scanning orders.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class OrderFacts(Base):
    """What one order contributes to the insights, as last computed from its source rows."""

    __tablename__ = "insights_order_facts"
    __table_args__ = (
        # Drill-downs read one slice newest first: served in index order, stopping at the limit.
        Index("ix_insights_order_facts_shop_period", "shop_id", "period", "order_id"),
        Index("ix_insights_order_facts_shop_supplier", "shop_id", "supplier_id", "period", "order_id"),
        Index("ix_insights_order_facts_shop_product", "shop_id", "product_key"),
        # A rare outcome (disputed, lost) is found through this instead of a scan of the slice.
        Index("ix_insights_order_facts_outcomes", "outcomes", postgresql_using="gin"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_name: Mapped[str] = mapped_column(String(64))
    period: Mapped[date] = mapped_column(Date)  # first day of the month the order was placed
    supplier_id: Mapped[int] = mapped_column(BigInteger, default=0)
    destination: Mapped[str] = mapped_column(String(2), default="")
    carrier: Mapped[str] = mapped_column(String(64), default="")
    product_key: Mapped[str] = mapped_column(String(64), default="")
    product_title: Mapped[str] = mapped_column(String(512), default="")
    currency: Mapped[str] = mapped_column(String(3))
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Everything else the pages show or filter on (durations, outcomes, reasons), see facts.py.
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The aggregate rows this order was last added to: [[table, key, measures], ...].
    # What happened to the order, for the drill-down: refund, dispute, claim, late, lost, exception,
    # urgent, undelivered_promise (queries.OUTCOMES).
    outcomes: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list, server_default="{}")
    contribution: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    refreshed_at: Mapped[datetime]


class Aggregate(Base):
    """Per shop, month, supplier, destination, carrier and product: counts and sums."""

    __tablename__ = "insights_aggregates"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    destination: Mapped[str] = mapped_column(String(2), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # {"orders": 12, "revenue": "340.00", "confirm_hours_sum": 40.5, ...}: measure name -> sum
    measures: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Breakdown(Base):
    """Outcome counts and amounts by reason (kind: refund | dispute | claim | remedy | notice),
    and distributions (kind: delivery_days | request_days, reason = the bucket's label)."""

    __tablename__ = "insights_breakdowns"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    destination: Mapped[str] = mapped_column(String(2), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)  # days for distributions, else 0
    measures: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CustomerMessage(TimestampMixin, Base):
    """One customer text (claim message, contact form, inbound e-mail) and how it was classified.

    `body` is the customer's own words: personal, cleared on redaction (the classification stays).
    A merchant's correction is kept next to the model's answer and trains that shop's model only.
    """

    __tablename__ = "customer_messages"
    __table_args__ = (
        UniqueConstraint("shop_id", "source", "source_ref"),
        Index("ix_customer_messages_shop_received", "shop_id", "received_at"),
        Index("ix_customer_messages_order", "order_id"),
        Index("ix_customer_messages_corrected", "shop_id", postgresql_where=text("corrected_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    # claim | contact_form | email
    source: Mapped[str] = mapped_column(String(16))
    # The resolution id, the form submission's id or the e-mail's Message-ID: a resend is one message.
    source_ref: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(512))
    body: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    # Filled by the classification task (analytics queue); null until then.
    reason: Mapped[str | None] = mapped_column(String(32))
    urgent: Mapped[bool | None]
    language: Mapped[str | None] = mapped_column(String(8))
    confidence: Mapped[float | None]
    because: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    model: Mapped[str | None] = mapped_column(String(64))
    classified_at: Mapped[datetime | None]
    corrected_reason: Mapped[str | None] = mapped_column(String(32))
    corrected_urgent: Mapped[bool | None]
    corrected_at: Mapped[datetime | None]


class PendingRefresh(Base):
    """An order whose insight facts may be stale: written in the transaction that changed one of
    its facts, taken (and deleted) by the batched refresh in the transaction that recomputes it.

    Append-only (a row per changing transaction, no unique key): a writer never waits for, or
    conflicts with, a refresh that is running, and a row committed after a batch took its rows is
    left for the next batch, so no change is missed. Several rows of one order are one refresh."""

    __tablename__ = "insights_pending_refreshes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger)
    queued_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
