"""orders list: keyset indexes per sort order, trigram search on customers, carriers per shop

The merchant's orders list (app/dashboard/orders_list.py) reads one shop's orders in created_at or
total order, a page at a time by keyset; searches customers by any part of their name or e-mail;
and offers the carriers the shop's parcels went with. Without these, each was a scan and sort of
the shop's orders (or every customer / every parcel) per request (EXPLAIN in bench/dashboard.py).

Revision ID: 7c2e9b4d1a60
Revises: 9b3e5d7a1c42
Create Date: 2026-12-04 21:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '7c2e9b4d1a60'
down_revision: str | None = '9b3e5d7a1c42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expression app.dashboard.orders_list.customer_search_text() builds, character for character.
# Written as PostgreSQL reflects it, so alembic's model check compares equal text.
CUSTOMER_SEARCH = ("lower((((((COALESCE(first_name, ''::character varying))::text || ' '::text) || "
                   "(COALESCE(last_name, ''::character varying))::text) || ' '::text) || "
                   "(COALESCE(email, ''::character varying))::text))")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_orders_shop_created", "orders", ["shop_id", "created_at", "id"])
    op.create_index("ix_orders_shop_total", "orders", ["shop_id", "total_price", "id"])
    op.execute(f"CREATE INDEX ix_customers_search ON customers USING gin (({CUSTOMER_SEARCH}) gin_trgm_ops)")
    op.create_index("ix_shipments_shop_carrier", "shipments", ["shop_id", "carrier"])


def downgrade() -> None:
    op.drop_index("ix_shipments_shop_carrier", table_name="shipments")
    op.drop_index("ix_customers_search", table_name="customers")
    op.drop_index("ix_orders_shop_total", table_name="orders")
    op.drop_index("ix_orders_shop_created", table_name="orders")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
