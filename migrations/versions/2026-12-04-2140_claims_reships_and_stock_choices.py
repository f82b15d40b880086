"""claims: a reship's supplier order found from its claim; the customer's choice on stock-out

Revision ID: 9c3e5a71d2b4
Revises: 9b3e5c7a1d42
Create Date: 2026-12-04 21:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9c3e5a71d2b4"
down_revision: str | None = "9b3e5c7a1d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every supplier order's answer asks whether it is a claim's reship (app/resolutions/reships.py).
    op.create_index("ix_resolutions_reship_supplier_order_id", "resolutions", ["reship_supplier_order_id"],
                    postgresql_where=sa.text("reship_supplier_order_id IS NOT NULL"))
    op.create_table(
        "stock_choices",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("line_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("supplier_reason", sa.String(length=64), nullable=True),
        sa.Column("choice", sa.String(length=16), nullable=True),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_id", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_stock_choices_shop_id_shops")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_stock_choices_order_id_orders")),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], name=op.f("fk_stock_choices_refund_id_refunds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_choices")),
    )
    op.create_index("uq_stock_choices_order_id", "stock_choices", ["order_id"], unique=True)
    op.create_index("ix_stock_choices_open", "stock_choices", ["shop_id"],
                    postgresql_where=sa.text("status IN ('asked', 'failed')"))


def downgrade() -> None:
    op.drop_index("ix_stock_choices_open", table_name="stock_choices")
    op.drop_index("uq_stock_choices_order_id", table_name="stock_choices")
    op.drop_table("stock_choices")
    op.drop_index("ix_resolutions_reship_supplier_order_id", table_name="resolutions")
