"""shops: expiring tokens, refresh tokens, install route; history import tables

Revision ID: 3c1f7a2d9e40
Revises: 7d1e3a9c5b20
Create Date: 2026-11-26 11:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1f7a2d9e40"
down_revision: str | None = "7d1e3a9c5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def _history_table(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.BigInteger(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f(f"fk_{name}_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f(f"fk_{name}_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("shop_id", "external_id", name=op.f(f"uq_{name}_shop_id_external_id")),
    )
    op.create_index(op.f(f"ix_{name}_order_id"), name, ["order_id"], unique=False)


def upgrade() -> None:
    op.add_column("shops", sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shops", sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True))
    op.add_column("shops", sa.Column("refresh_token_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shops", sa.Column("installed_via", sa.String(length=32), nullable=True))
    op.create_table(
        "history_imports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor", sa.String(length=512), nullable=True),
        sa.Column("orders_total", sa.BigInteger(), nullable=True),
        sa.Column("orders_seen", sa.BigInteger(), nullable=False),
        sa.Column("orders_imported", sa.BigInteger(), nullable=False),
        sa.Column("refunds", sa.BigInteger(), nullable=False),
        sa.Column("fulfillments", sa.BigInteger(), nullable=False),
        sa.Column("disputes", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_history_imports_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_imports")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_history_imports_shop_id")),
    )
    _history_table(
        "history_refunds",
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
    )
    _history_table(
        "history_fulfillments",
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("display_status", sa.String(length=32), nullable=True),
        sa.Column("tracking_company", sa.String(length=128), nullable=True),
        sa.Column("tracking_number", sa.String(length=128), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in ("history_fulfillments", "history_refunds"):
        op.drop_index(op.f(f"ix_{name}_order_id"), table_name=name)
        op.drop_table(name)
    op.drop_table("history_imports")
    op.drop_column("shops", "installed_via")
    op.drop_column("shops", "refresh_token_expires_at")
    op.drop_column("shops", "refresh_token_encrypted")
    op.drop_column("shops", "access_token_expires_at")
