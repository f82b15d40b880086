"""inventory: inventory items and supplier stock; suppliers: held-order queue and SLA breaches

Revision ID: 5e8b2f4a7c19
Revises: 5e0c2b7a9d14
Create Date: 2026-11-26 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e8b2f4a7c19"
down_revision: str | None = "5e0c2b7a9d14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "inventory_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=128), nullable=False),
        sa.Column("location_id", sa.String(length=128), nullable=False),
        sa.Column("variant_id", sa.BigInteger(), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("price", sa.Numeric(14, 2), nullable=True),
        sa.Column("store_quantity", sa.BigInteger(), nullable=True),
        sa.Column("supplier_quantity", sa.BigInteger(), nullable=True),
        sa.Column("published_quantity", sa.BigInteger(), nullable=True),
        sa.Column("unit_cost", sa.Numeric(14, 4), nullable=True),
        sa.Column("needs_publish", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("supplier_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_lag_ms", sa.BigInteger(), nullable=True),
        sa.Column("margin_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_inventory_items_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_items")),
        sa.UniqueConstraint(
            "shop_id", "inventory_item_id", "location_id",
            name=op.f("uq_inventory_items_shop_id_inventory_item_id_location_id"),
        ),
    )
    op.create_index("ix_inventory_items_shop_id_variant_id", "inventory_items", ["shop_id", "variant_id"])
    op.create_index("ix_inventory_items_shop_id_sku", "inventory_items", ["shop_id", "sku"])
    op.create_index("ix_inventory_items_shop_id_needs_publish", "inventory_items", ["shop_id", "needs_publish"])

    op.create_table(
        "supplier_stock",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_sku", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 4), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_supplier_stock_shop_id_shops")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_stock_supplier_id_suppliers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_stock")),
        sa.UniqueConstraint("supplier_id", "supplier_sku", name=op.f("uq_supplier_stock_supplier_id_supplier_sku")),
    )
    op.create_index(op.f("ix_supplier_stock_shop_id"), "supplier_stock", ["shop_id"])

    op.create_table(
        "supplier_queue",
        sa.Column("supplier_order_id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["supplier_order_id"], ["supplier_orders.id"], ondelete="CASCADE",
            name=op.f("fk_supplier_queue_supplier_order_id_supplier_orders"),
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_supplier_queue_shop_id_shops")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_queue_supplier_id_suppliers")),
        sa.PrimaryKeyConstraint("supplier_order_id", name=op.f("pk_supplier_queue")),
    )
    op.create_index(op.f("ix_supplier_queue_shop_id"), "supplier_queue", ["shop_id"])
    op.create_index(op.f("ix_supplier_queue_supplier_id"), "supplier_queue", ["supplier_id"])

    op.create_table(
        "supplier_sla_breaches",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_order_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_supplier_sla_breaches_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_sla_breaches_supplier_id_suppliers")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_order_id"], ["supplier_orders.id"], ondelete="CASCADE",
            name=op.f("fk_supplier_sla_breaches_supplier_order_id_supplier_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], ondelete="CASCADE", name=op.f("fk_supplier_sla_breaches_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_sla_breaches")),
        sa.UniqueConstraint(
            "supplier_order_id", "condition", name=op.f("uq_supplier_sla_breaches_supplier_order_id_condition")
        ),
    )
    op.create_index(op.f("ix_supplier_sla_breaches_shop_id"), "supplier_sla_breaches", ["shop_id"])
    op.create_index(op.f("ix_supplier_sla_breaches_supplier_id"), "supplier_sla_breaches", ["supplier_id"])


def downgrade() -> None:
    op.drop_table("supplier_sla_breaches")
    op.drop_table("supplier_queue")
    op.drop_table("supplier_stock")
    op.drop_table("inventory_items")
