"""Pre-dispute alerts, the merchant e-mails of this domain, ratio warnings and chain-head digests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class PreDisputeAlert(TimestampMixin, Base):
    """One alert from an alert provider (an Ethoca or Verifi CDRN alert relayed by it, or an RDR /
    TC40 notice): the bank's warning that a cardholder is about to dispute a payment.

    status: received -> decided (fight or acknowledge: the outcome is due) | refund_requested
    (waiting for the store to confirm the money went back) -> outcome_due -> reported.
    """

    __tablename__ = "dispute_alerts"
    __table_args__ = (
        UniqueConstraint("provider", "external_id"),
        Index("ix_dispute_alerts_shop_id_received_at", "shop_id", "received_at"),
        # The 24 h sweep reads only what is still owed to the provider.
        Index("ix_dispute_alerts_unreported", "outcome_due_at", postgresql_where=text("reported_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    # Null when the alert names a payment we cannot find (reported as transaction_not_found).
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    # ethoca | cdrn | rdr | tc40
    alert_type: Mapped[str] = mapped_column(String(16))
    # visa | mastercard | amex | discover | other
    network: Mapped[str] = mapped_column(String(16))
    order_reference: Mapped[str | None] = mapped_column(String(64))
    arn: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # The provider's words (e.g. "not_received", "fraud") and what they mean for us (refunds.reasons).
    reason: Mapped[str | None] = mapped_column(String(64))
    reason_family: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime]
    outcome_due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24))
    # fight | refund | acknowledge | none, and the row of the decision table that chose it.
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_rule: Mapped[str | None] = mapped_column(String(48))
    # The ledger facts the decision read, as cited in the ledger event.
    decision_facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    decided_at: Mapped[datetime | None]
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), index=True)
    # The provider's outcome vocabulary: refunded, previously_refunded, transaction_not_found,
    # acknowledged, decline, error.
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    reported_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    webhook_delivery_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id"))


class MerchantMail(TimestampMixin, Base):
    """One e-mail to the merchant, at most once per `key` (a ratio warning of a month and threshold,
    the digest of a day): written in the transaction that decided it, sent by a task."""

    __tablename__ = "merchant_mails"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    key: Mapped[str] = mapped_column(String(128))
    # ratio_warning | chain_digest
    kind: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    # pending -> sent | failed | skipped (the shop has no e-mail address)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    message_id: Mapped[str | None] = mapped_column(String(255))
    server_reply: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class RatioWarning(Base):
    """A month in which one of the shop's ratios reached a level of one network programme's
    threshold (app/disputes/ratios.py): recorded once per month, programme, variant and level."""

    __tablename__ = "ratio_warnings"
    __table_args__ = (UniqueConstraint("shop_id", "month", "programme", "variant", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    programme: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str] = mapped_column(String(32))
    # early_warning | at_threshold
    level: Mapped[str] = mapped_column(String(16))
    ratio: Mapped[Decimal] = mapped_column(Numeric(8, 5))
    threshold: Mapped[Decimal] = mapped_column(Numeric(8, 5))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ChainDigest(Base):
    """A shop's ledger chain head as it was at one moment, written daily and sent to the merchant:
    a later rewrite of any event up to `seq` changes the hash at `seq`, which this row (and the
    merchant's copy of the e-mail) still holds (app/evidence/digest.py)."""

    __tablename__ = "chain_digests"
    __table_args__ = (UniqueConstraint("shop_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    chain: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    # recorded_at of the head event: the time the chain had reached this point.
    head_at: Mapped[datetime | None]
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())
