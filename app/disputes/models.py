from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Dispute(TimestampMixin, Base):
    """A chargeback or inquiry as the store reports it (disputes/create, disputes/update, and the
    GraphQL `dispute(id:)` read that adds what the webhook lacks), with our answer to it."""

    __tablename__ = "disputes"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    # Null when the store names an order we never received.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    # needs_response | under_review | prevented | charge_refunded | accepted | won | lost
    status: Mapped[str] = mapped_column(String(32))
    # chargeback (money already taken back) | inquiry (no money moved yet)
    kind: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    # The card network's own code ("13.1", "4855", "10.4"): what the issuer actually claims.
    network_reason_code: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    # The real cut-off instant; its offset as the store wrote it is kept apart (minutes east of
    # UTC), so the merchant sees the deadline in the store's own clock.
    evidence_due_by: Mapped[datetime | None]
    evidence_due_offset: Mapped[int | None] = mapped_column(SmallInteger)
    # Whether evidence_due_by is only GraphQL's day (start of that day in the shop's zone).
    evidence_due_day_only: Mapped[bool] = mapped_column(default=False, server_default="false")
    evidence_sent_on: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # won | lost | accepted | prevented | charge_refunded, once the dispute is decided.
    outcome: Mapped[str | None] = mapped_column(String(16))
    # [{"status", "at", "source"}], oldest first: every status the store reported.
    status_history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    fetched_at: Mapped[datetime | None]
    # The response summary as the merchant edited it (null: the one generated from the ledger).
    narrative: Mapped[str | None] = mapped_column(Text)
    narrative_edited_at: Mapped[datetime | None]
    # none | queued | submitting | submitted | failed (our disputeEvidenceUpdate with submitEvidence)
    submission_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    # merchant | automatic
    submitted_by: Mapped[str | None] = mapped_column(String(16))
    submission_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    submission_error: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]
    # The last deadline reminder sent to the merchant (days before the deadline), so each is sent once.
    reminded_days: Mapped[int | None] = mapped_column(SmallInteger)
