"""alerts: pre-dispute alerts, merchant e-mails, ratio warnings, daily chain-head digests

Revision ID: 7a3c5e9b1d24
Revises: 4d1f7a2c9e35
Create Date: 2026-12-04 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7a3c5e9b1d24"
down_revision: str | None = "4d1f7a2c9e35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "dispute_alerts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("shop_id", sa.BigInteger(), sa.ForeignKey("shops.id", name=op.f("fk_dispute_alerts_shop_id_shops")),
                  nullable=False),
        sa.Column("order_id", sa.BigInteger(),
                  sa.ForeignKey("orders.id", name=op.f("fk_dispute_alerts_order_id_orders")), nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("alert_type", sa.String(16), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("order_reference", sa.String(64), nullable=True),
        sa.Column("arn", sa.String(64), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("reason_family", sa.String(24), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decision_rule", sa.String(48), nullable=True),
        sa.Column("decision_facts", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_id", sa.BigInteger(),
                  sa.ForeignKey("refunds.id", name=op.f("fk_dispute_alerts_refund_id_refunds")), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("outcome_attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("webhook_delivery_id", sa.BigInteger(),
                  sa.ForeignKey("webhook_deliveries.id",
                                name=op.f("fk_dispute_alerts_webhook_delivery_id_webhook_deliveries")),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_alerts")),
        sa.UniqueConstraint("provider", "external_id", name=op.f("uq_dispute_alerts_provider_external_id")),
    )
    op.create_index("ix_dispute_alerts_shop_id_received_at", "dispute_alerts", ["shop_id", "received_at"])
    op.create_index(op.f("ix_dispute_alerts_order_id"), "dispute_alerts", ["order_id"])
    op.create_index(op.f("ix_dispute_alerts_refund_id"), "dispute_alerts", ["refund_id"])
    op.create_index("ix_dispute_alerts_unreported", "dispute_alerts", ["outcome_due_at"],
                    postgresql_where=sa.text("reported_at IS NULL"))

    op.create_table(
        "merchant_mails",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), sa.ForeignKey("shops.id", name=op.f("fk_merchant_mails_shop_id_shops")),
                  nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("server_reply", sa.String(255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_mails")),
        sa.UniqueConstraint("shop_id", "key", name=op.f("uq_merchant_mails_shop_id_key")),
    )

    op.create_table(
        "ratio_warnings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), sa.ForeignKey("shops.id", name=op.f("fk_ratio_warnings_shop_id_shops")),
                  nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("variant", sa.String(32), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("ratio", sa.Numeric(8, 5), nullable=False),
        sa.Column("threshold", sa.Numeric(8, 5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratio_warnings")),
        sa.UniqueConstraint("shop_id", "month", "programme", "variant", "level", name=op.f("uq_ratio_warnings_shop_id_month_programme_variant_level")),
    )
    op.create_index(op.f("ix_ratio_warnings_shop_id"), "ratio_warnings", ["shop_id"])

    op.create_table(
        "chain_digests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), sa.ForeignKey("shops.id", name=op.f("fk_chain_digests_shop_id_shops")),
                  nullable=False),
        sa.Column("chain", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("head_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_digests")),
        sa.UniqueConstraint("shop_id", "day", name=op.f("uq_chain_digests_shop_id_day")),
    )
    op.create_index(op.f("ix_chain_digests_shop_id"), "chain_digests", ["shop_id"])


def downgrade() -> None:
    op.drop_table("chain_digests")
    op.drop_table("ratio_warnings")
    op.drop_table("merchant_mails")
    op.drop_table("dispute_alerts")
