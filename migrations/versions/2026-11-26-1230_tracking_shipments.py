"""tracking: shipment status columns, store fulfilment events, shipment alerts

Revision ID: 8b3d5f1e2a64
Revises: 5e8b2f4a7c19
Create Date: 2026-11-26 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8b3d5f1e2a64"
down_revision: str | None = "5e8b2f4a7c19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_SHIPMENT_COLUMNS = [
    sa.Column("provider", sa.String(length=16), nullable=True),
    sa.Column("raw_status", sa.String(length=64), nullable=True),
    sa.Column("raw_sub_status", sa.String(length=64), nullable=True),
    sa.Column("status_reason", sa.String(length=32), nullable=True),
    sa.Column("status_at", _TZ, nullable=True),
    sa.Column("last_event_at", _TZ, nullable=True),
    sa.Column("first_scan_at", _TZ, nullable=True),
    sa.Column("delivered_at", _TZ, nullable=True),
    sa.Column("registered_at", _TZ, nullable=True),
    sa.Column("last_polled_at", _TZ, nullable=True),
    sa.Column("destination_country", sa.String(length=2), nullable=True),
    sa.Column("expected_from", _TZ, nullable=True),
    sa.Column("expected_by", _TZ, nullable=True),
    sa.Column("flags", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
    sa.Column("store_tracking_synced", sa.Boolean(), server_default="true", nullable=False),
]


def upgrade() -> None:
    for column in _SHIPMENT_COLUMNS:
        op.add_column("shipments", column)
    op.create_index("ix_shipments_tracking_number", "shipments", ["tracking_number"], unique=False)
    op.create_table(
        "store_fulfilment_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("shipment_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("happened_at", _TZ, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("store_event_id", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_store_fulfilment_events_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_store_fulfilment_events_shipment_id_shipments")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_store_fulfilment_events_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_fulfilment_events")),
        sa.UniqueConstraint(
            "shipment_id", "status", "happened_at", name=op.f("uq_store_fulfilment_events_shipment_id_status_happened_at")
        ),
    )
    op.create_index(op.f("ix_store_fulfilment_events_order_id"), "store_fulfilment_events", ["order_id"])
    op.create_index(op.f("ix_store_fulfilment_events_shipment_id"), "store_fulfilment_events", ["shipment_id"])
    op.create_index(op.f("ix_store_fulfilment_events_shop_id"), "store_fulfilment_events", ["shop_id"])
    op.create_table(
        "shipment_alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("shipment_id", sa.BigInteger(), nullable=False),
        sa.Column("condition", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", _TZ, nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_shipment_alerts_order_id_orders")),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"], name=op.f("fk_shipment_alerts_shipment_id_shipments")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_shipment_alerts_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_alerts")),
        sa.UniqueConstraint("shipment_id", "condition", name=op.f("uq_shipment_alerts_shipment_id_condition")),
    )
    op.create_index(op.f("ix_shipment_alerts_order_id"), "shipment_alerts", ["order_id"])
    op.create_index(op.f("ix_shipment_alerts_shop_id"), "shipment_alerts", ["shop_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shipment_alerts_shop_id"), table_name="shipment_alerts")
    op.drop_index(op.f("ix_shipment_alerts_order_id"), table_name="shipment_alerts")
    op.drop_table("shipment_alerts")
    op.drop_index(op.f("ix_store_fulfilment_events_shop_id"), table_name="store_fulfilment_events")
    op.drop_index(op.f("ix_store_fulfilment_events_shipment_id"), table_name="store_fulfilment_events")
    op.drop_index(op.f("ix_store_fulfilment_events_order_id"), table_name="store_fulfilment_events")
    op.drop_table("store_fulfilment_events")
    op.drop_index("ix_shipments_tracking_number", table_name="shipments")
    for column in reversed(_SHIPMENT_COLUMNS):
        op.drop_column("shipments", column.name)
