"""inbox: partial index on deliveries still queued (the reaper's scan)

Revision ID: 3c7e9a1d5b20
Revises: 8b3d5f1e2a64
Create Date: 2026-11-26 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c7e9a1d5b20"
down_revision: str | None = "8b3d5f1e2a64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_queued", "webhook_deliveries", ["received_at"], unique=False,
                    postgresql_where=sa.text("status = 'queued'"))


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_queued", table_name="webhook_deliveries",
                  postgresql_where=sa.text("status = 'queued'"))
