"""insights: orders waiting for the batched refresh (one task per batch instead of per fact change)

Revision ID: 9b3e5c7a1d42
Revises: 7c2e9b4d1a60
Create Date: 2026-12-04 21:00:00
"""
from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = '9b3e5c7a1d42'
down_revision: str | None = '7c2e9b4d1a60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('insights_pending_refreshes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insights_pending_refreshes'))
    )
    # Orders still waiting on the per-order task the batch replaces are handed to the batch.
    op.execute(
        "INSERT INTO insights_pending_refreshes (order_id) SELECT DISTINCT (args->>0)::bigint FROM outbox"
        " WHERE task_name = 'insights.refresh_order' AND dispatched_at IS NULL"
    )


def downgrade() -> None:
    op.drop_table('insights_pending_refreshes')
