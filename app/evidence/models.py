from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class EvidenceEvent(Base):
    """One fact about a shop's business, chained to the shop's previous fact.

    `digest` commits to the event's content (its personal part only through a salted digest);
    `hash` links `digest` to the previous event of the same chain. seq, prev_hash, recorded_at and
    hash are set by a database trigger under a per-chain row lock (see the migration).
    """

    __tablename__ = "evidence_events"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_evidence_events_order_id_seq", "order_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The shop's myshopify domain: known even for shops that are not installed.
    chain: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int]
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    personal: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    personal_salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    personal_digest: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    webhook_delivery_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id"))
    # Which hashing rules made digest and hash (app.evidence.canonical.HASH_VERSIONS).
    hash_version: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))


class LedgerHead(Base):
    """The last link of each chain; its row lock serialises appends for one shop only."""

    __tablename__ = "ledger_heads"

    chain: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
