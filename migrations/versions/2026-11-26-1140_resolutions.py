"""resolution centre: resolutions table; order lookup by number across shops

Revision ID: 5e0c2b7a9d14
Revises: 9a4c2e6b1d73
Create Date: 2026-11-26 11:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5e0c2b7a9d14"
down_revision: str | None = "9a4c2e6b1d73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The status lookup finds an order by its number without knowing the shop.
    op.create_index("ix_orders_name", "orders", ["name"], unique=False)
    # Repeatable notification stages are stored as "<stage>:<occurrence>".
    op.alter_column("notifications", "stage", type_=sa.String(length=64), existing_type=sa.String(length=32))
    op.create_table(
        "resolutions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("photos", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("offers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("policy_digest", sa.String(length=64), nullable=False),
        sa.Column("remedy", sa.String(length=24), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("decided_by", sa.String(length=16), nullable=True),
        sa.Column("merchant_note", sa.Text(), nullable=True),
        sa.Column("refund_id", sa.String(length=128), nullable=True),
        sa.Column("reship_supplier_order_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_resolutions_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["reship_supplier_order_id"],
            ["supplier_orders.id"],
            name=op.f("fk_resolutions_reship_supplier_order_id_supplier_orders"),
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_resolutions_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
    )
    op.create_index("ix_resolutions_order_id", "resolutions", ["order_id"], unique=False)
    op.create_index(
        "ix_resolutions_queue",
        "resolutions",
        ["shop_id", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending_review', 'awaiting_return', 'failed')"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_resolutions_queue",
        table_name="resolutions",
        postgresql_where=sa.text("status IN ('pending_review', 'awaiting_return', 'failed')"),
    )
    op.drop_index("ix_resolutions_order_id", table_name="resolutions")
    op.drop_table("resolutions")
    op.execute("DELETE FROM notifications WHERE length(stage) > 32")
    op.alter_column("notifications", "stage", type_=sa.String(length=32), existing_type=sa.String(length=64))
    op.drop_index("ix_orders_name", table_name="orders")
