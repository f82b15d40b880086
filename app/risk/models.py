"""Risk intelligence tables: what each order's payload said (non-personal), the outcomes the shop
saw, the history counts scoring reads, each shop's models, each order's current score and the
risk cards written to the store."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class RiskSignal(Base):
    """The facts an order's own payload gives, as of the order's time, without personal data:
    countries, yes/no checks of the address and e-mail, value and quantity. Captured from every
    snapshot the order service applies (webhooks and the history import alike)."""

    __tablename__ = "risk_signals"
    __table_args__ = (
        Index("ix_risk_signals_shop_id_placed_at", "shop_id", "placed_at"),
        Index("ix_risk_signals_shop_id_customer_id", "shop_id", "customer_id"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    # When the customer placed the order, at the source (payload created_at / processed_at).
    placed_at: Mapped[datetime]
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    destination: Mapped[str | None] = mapped_column(String(2))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    quantity: Mapped[int]
    # {"billing_country", "ip_country", "country_mismatch", "name_mismatch", "ip_mismatch",
    #  "forwarder", "po_box", "email_digits", "email_disposable", "email_name_mismatch", "has_ip"}
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class RiskOutcome(Base):
    """One outcome of one order, as a fact with the source's own time: a refund, a dispute, a
    claim, a cancellation, a return or the merchant's decision on an order held for risk.
    `bad` says whether it counts as "refund or chargeback" (the event the probability is about)."""

    __tablename__ = "risk_outcomes"
    __table_args__ = (
        UniqueConstraint("shop_id", "kind", "source_ref"),
        Index("ix_risk_outcomes_shop_id_occurred_at", "shop_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # refund | dispute | claim | cancellation | return | merchant_decision
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(64))
    bad: Mapped[bool]
    occurred_at: Mapped[datetime]
    # False when the source gave no time (a dispute from the history import): occurred_at is then
    # when we learned of it, never earlier than it happened (so no feature sees it too soon).
    exact_time: Mapped[bool] = mapped_column(default=True, server_default="true")
    # The source row the fact comes from, e.g. "dispute:12", "history_refund:7", "flag:3".
    source_ref: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RiskRate(Base):
    """History counts as of the last refresh, per dimension and key: orders seen and orders with
    a bad outcome (the live score smooths them exactly as training does). The shop-wide row is
    dimension "shop", key "all"; its `median_value` is the shop's median order value."""

    __tablename__ = "risk_rates"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    # shop | product | supplier | destination | carrier
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    orders: Mapped[int]
    bad: Mapped[int]
    median_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    computed_at: Mapped[datetime]


class RiskModel(TimestampMixin, Base):
    """One trained model of one shop, with its evaluation on the most recent held-out period.

    `parameters` is everything scoring needs (feature names, standardisation, coefficients,
    intercept, the isotonic calibration's knots): plain numbers, no pickled code.
    status: active (the shop's model) | retired (replaced) | rejected (did not beat the rules on
    the held-out period; kept so the merchant sees why the rules still score)."""

    __tablename__ = "risk_models"
    __table_args__ = (UniqueConstraint("shop_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="learned")
    status: Mapped[str] = mapped_column(String(16))
    trained_at: Mapped[datetime]
    # Orders placed up to this moment (and old enough for their outcomes to be known) were used.
    data_through: Mapped[datetime]
    label_days: Mapped[int]
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSONB)


class RiskScore(Base):
    """An order's current score; every change of it is also a "risk.scored" ledger event."""

    __tablename__ = "risk_scores"
    __table_args__ = (Index("ix_risk_scores_shop_id_level", "shop_id", "level"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    probability: Mapped[float] = mapped_column(Float)
    # low | medium | high
    level: Mapped[str] = mapped_column(String(8))
    # [{"key": reason key, "weight": contribution in log-odds, "params": {...}}], strongest first
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    features: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    model_kind: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("risk_models.id", ondelete="SET NULL"))
    trained_at: Mapped[datetime | None]
    # What asked for this score: paid | rescore:<event> | train | api
    trigger: Mapped[str] = mapped_column(String(48))
    # The score's version: a digest of model version, level and reasons (one risk card each).
    digest: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime]


class RiskCard(TimestampMixin, Base):
    """One orderRiskAssessmentCreate to make in the store, exactly once per score version.

    state: pending -> attempted (committed before the call) -> published | failed."""

    __tablename__ = "risk_cards"
    __table_args__ = (UniqueConstraint("order_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    # [{"description": str, "sentiment": NEGATIVE|NEUTRAL|POSITIVE}]: what is written, frozen here.
    facts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
