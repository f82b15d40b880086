"""refunds: one table for every refund of an order (the store's, the history import's, ours)

history_refunds moves into refunds and is dropped; the refunds our resolutions made (their store
refund id on the resolution) become rows of their own; refunds/create deliveries that were stored
unprocessed are queued again, now that the topic is processed.

Revision ID: 6f2a8c4e1b37
Revises: 3c7e9a1d5b20
Create Date: 2026-12-03 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6f2a8c4e1b37"
down_revision: str | None = "3c7e9a1d5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("issued_by", sa.String(length=16), nullable=False),
        sa.Column("resolution_id", sa.BigInteger(), nullable=True),
        sa.Column("dispute_id", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], name=op.f("fk_refunds_dispute_id_disputes")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders")),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"],
                                name=op.f("fk_refunds_resolution_id_resolutions")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_refunds_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
        sa.UniqueConstraint("shop_id", "external_id", name=op.f("uq_refunds_shop_id_external_id")),
    )
    op.create_index("ix_refunds_shop_id_order_id", "refunds", ["shop_id", "order_id"], unique=False)
    op.create_index(op.f("ix_refunds_resolution_id"), "refunds", ["resolution_id"], unique=False)
    op.create_index(op.f("ix_refunds_dispute_id"), "refunds", ["dispute_id"], unique=False)
    op.create_index("ix_refunds_issued", "refunds", ["updated_at"], unique=False,
                    postgresql_where=sa.text("status = 'issued'"))

    # The refunds resolutions made (completed when the store answered with its refund id).
    op.execute(
        """
        INSERT INTO refunds (shop_id, order_id, external_id, status, amount, currency, reason, note, issued_by,
                             resolution_id, idempotency_key, lines, requested_at, refunded_at, attempts)
        SELECT r.shop_id, r.order_id, regexp_replace(r.refund_id, '^.*/', ''), 'confirmed', r.amount, r.currency,
               r.reason, 'Dropguard resolution ' || r.id || ' (' || r.reason || ')', 'resolution', r.id,
               'dg-' || r.shop_id || '-' || r.order_id || '-refund-' || r.id, '[]'::jsonb, r.accepted_at,
               r.resolved_at, r.attempts
        FROM resolutions r
        WHERE r.refund_id IS NOT NULL AND r.amount IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    # Refunds the history import found (made in the store admin, or ours above: kept once).
    op.execute(
        """
        INSERT INTO refunds (shop_id, order_id, external_id, status, amount, currency, reason, issued_by, lines,
                             refunded_at, attempts, created_at)
        SELECT shop_id, order_id, external_id::text, 'confirmed', amount, currency, 'unknown', 'store', '[]'::jsonb,
               refunded_at, 0, refunded_at
        FROM history_refunds
        ON CONFLICT DO NOTHING
        """
    )
    op.drop_index(op.f("ix_history_refunds_order_id"), table_name="history_refunds")
    op.drop_table("history_refunds")
    op.drop_column("resolutions", "refund_id")
    op.drop_column("resolutions", "attempts")
    # refunds/create was stored but not acted on until now: those deliveries are processed.
    op.execute(
        """
        WITH waiting AS (
            UPDATE webhook_deliveries SET status = 'queued'
            WHERE topic = 'refunds/create' AND status = 'stored' AND shop_id IS NOT NULL
            RETURNING id
        )
        INSERT INTO outbox (task_name, args, queue)
        SELECT 'webhooks.process_delivery', jsonb_build_array(id), 'ingest' FROM waiting ORDER BY id
        """
    )


def downgrade() -> None:
    op.add_column("resolutions", sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("resolutions", sa.Column("refund_id", sa.String(length=128), nullable=True))
    op.execute(
        """
        UPDATE resolutions r SET refund_id = 'gid://shopify/Refund/' || f.external_id, attempts = f.attempts
        FROM refunds f
        WHERE f.resolution_id = r.id AND f.status = 'confirmed' AND f.external_id IS NOT NULL
        """
    )
    op.create_table(
        "history_refunds",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_history_refunds_shop_id_shops")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_history_refunds_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_refunds")),
        sa.UniqueConstraint("shop_id", "external_id", name=op.f("uq_history_refunds_shop_id_external_id")),
    )
    op.create_index(op.f("ix_history_refunds_order_id"), "history_refunds", ["order_id"], unique=False)
    op.execute(
        """
        INSERT INTO history_refunds (shop_id, order_id, external_id, amount, currency, refunded_at)
        SELECT shop_id, order_id, external_id::bigint, amount, currency, coalesce(refunded_at, created_at)
        FROM refunds WHERE status = 'confirmed' AND external_id ~ '^[0-9]+$'
        """
    )
    op.drop_index("ix_refunds_issued", table_name="refunds", postgresql_where=sa.text("status = 'issued'"))
    op.drop_index(op.f("ix_refunds_dispute_id"), table_name="refunds")
    op.drop_index(op.f("ix_refunds_resolution_id"), table_name="refunds")
    op.drop_index("ix_refunds_shop_id_order_id", table_name="refunds")
    op.drop_table("refunds")
