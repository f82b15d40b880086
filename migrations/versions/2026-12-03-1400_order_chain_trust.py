"""customer trust and the order chain (issue 10, after the refunds table): unit costs written to
the store

Revision ID: 8d4b1f6c2a93
Revises: 6f2a8c4e1b37
Create Date: 2026-12-03 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d4b1f6c2a93"
down_revision: str | None = "6f2a8c4e1b37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("inventory_items", sa.Column("store_cost", sa.Numeric(precision=14, scale=4), nullable=True))


def downgrade() -> None:
    op.drop_column("inventory_items", "store_cost")
