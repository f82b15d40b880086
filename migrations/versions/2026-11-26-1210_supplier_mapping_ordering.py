"""suppliers: variant mappings, supplier order lines, order flags, mapping imports; fallback and polling columns

Revision ID: 9a4c2e6b1d73
Revises: 3c1f7a2d9e40
Create Date: 2026-11-26 12:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9a4c2e6b1d73"
down_revision: str | None = "3c1f7a2d9e40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.drop_constraint("uq_supplier_orders_order_id_supplier_id", "supplier_orders", type_="unique")
    op.add_column("supplier_orders", sa.Column("replaces_id", sa.BigInteger(), nullable=True))
    op.add_column("supplier_orders", sa.Column("poll_after", sa.DateTime(timezone=True), nullable=True))
    op.add_column("supplier_orders", sa.Column("polls", sa.BigInteger(), server_default="0", nullable=False))
    op.create_foreign_key(
        op.f("fk_supplier_orders_replaces_id_supplier_orders"),
        "supplier_orders", "supplier_orders", ["replaces_id"], ["id"],
    )
    op.create_table(
        "variant_mappings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_id", sa.BigInteger(), nullable=False),
        sa.Column("match_key", sa.String(length=300), nullable=False),
        sa.Column("variant_id", sa.BigInteger(), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("supplier_sku", sa.String(length=255), nullable=False),
        sa.Column("supplier_variant", sa.String(length=255), nullable=True),
        sa.Column("priority", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("shipping_method", sa.String(length=128), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_variant_mappings_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_variant_mappings_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variant_mappings")),
        sa.UniqueConstraint(
            "shop_id", "match_key", "supplier_id", name=op.f("uq_variant_mappings_shop_id_match_key_supplier_id")
        ),
    )
    op.create_index(op.f("ix_variant_mappings_shop_id"), "variant_mappings", ["shop_id"], unique=False)
    op.create_table(
        "supplier_order_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_order_id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_line_id", sa.BigInteger(), nullable=False),
        sa.Column("mapping_id", sa.BigInteger(), nullable=True),
        sa.Column("supplier_sku", sa.String(length=255), nullable=True),
        sa.Column("supplier_variant", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("shipping_method", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["supplier_order_id"], ["supplier_orders.id"],
            name=op.f("fk_supplier_order_lines_supplier_order_id_supplier_orders"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_supplier_order_lines_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_lines.id"],
            name=op.f("fk_supplier_order_lines_order_line_id_order_lines"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mapping_id"], ["variant_mappings.id"],
            name=op.f("fk_supplier_order_lines_mapping_id_variant_mappings"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_order_lines")),
        sa.UniqueConstraint(
            "supplier_order_id", "order_line_id",
            name=op.f("uq_supplier_order_lines_supplier_order_id_order_line_id"),
        ),
    )
    op.create_index(op.f("ix_supplier_order_lines_shop_id"), "supplier_order_lines", ["shop_id"], unique=False)
    op.create_index(
        op.f("ix_supplier_order_lines_order_line_id"), "supplier_order_lines", ["order_line_id"], unique=False
    )
    op.create_table(
        "order_flags",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=64), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_order_flags_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_flags_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_flags")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_order_flags_order_id_kind")),
    )
    op.create_index(op.f("ix_order_flags_shop_id"), "order_flags", ["shop_id"], unique=False)
    op.create_table(
        "mapping_imports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("imported", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_mapping_imports_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mapping_imports")),
    )
    op.create_index(op.f("ix_mapping_imports_shop_id"), "mapping_imports", ["shop_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_mapping_imports_shop_id"), table_name="mapping_imports")
    op.drop_table("mapping_imports")
    op.drop_index(op.f("ix_order_flags_shop_id"), table_name="order_flags")
    op.drop_table("order_flags")
    op.drop_index(op.f("ix_supplier_order_lines_order_line_id"), table_name="supplier_order_lines")
    op.drop_index(op.f("ix_supplier_order_lines_shop_id"), table_name="supplier_order_lines")
    op.drop_table("supplier_order_lines")
    op.drop_index(op.f("ix_variant_mappings_shop_id"), table_name="variant_mappings")
    op.drop_table("variant_mappings")
    op.drop_constraint(op.f("fk_supplier_orders_replaces_id_supplier_orders"), "supplier_orders", type_="foreignkey")
    op.drop_column("supplier_orders", "polls")
    op.drop_column("supplier_orders", "poll_after")
    op.drop_column("supplier_orders", "replaces_id")
    op.create_unique_constraint(
        "uq_supplier_orders_order_id_supplier_id", "supplier_orders", ["order_id", "supplier_id"]
    )
