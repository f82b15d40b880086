"""disputes: type, network reason code, deadline offset, status history, outcome, narrative, submission

Revision ID: 9b3e5d7a1c42
Revises: 7a3c5e9b1d24
Create Date: 2026-12-04 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9b3e5d7a1c42"
down_revision: str | None = "7a3c5e9b1d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("disputes", sa.Column("kind", sa.String(length=16), nullable=True))
    op.add_column("disputes", sa.Column("network_reason_code", sa.String(length=16), nullable=True))
    op.add_column("disputes", sa.Column("evidence_due_offset", sa.SmallInteger(), nullable=True))
    op.add_column("disputes", sa.Column("evidence_due_day_only", sa.Boolean(), server_default="false",
                                        nullable=False))
    op.add_column("disputes", sa.Column("evidence_sent_on", sa.DateTime(timezone=True), nullable=True))
    op.add_column("disputes", sa.Column("outcome", sa.String(length=16), nullable=True))
    op.add_column("disputes", sa.Column("status_history", postgresql.JSONB(astext_type=sa.Text()),
                                        server_default="[]", nullable=False))
    op.add_column("disputes", sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("disputes", sa.Column("narrative", sa.Text(), nullable=True))
    op.add_column("disputes", sa.Column("narrative_edited_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("disputes", sa.Column("submission_status", sa.String(length=16), server_default="none",
                                        nullable=False))
    op.add_column("disputes", sa.Column("submitted_by", sa.String(length=16), nullable=True))
    op.add_column("disputes", sa.Column("submission_attempts", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("disputes", sa.Column("submission_error", sa.Text(), nullable=True))
    op.add_column("disputes", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("disputes", sa.Column("reminded_days", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    for column in ("reminded_days", "submitted_at", "submission_error", "submission_attempts", "submitted_by",
                   "submission_status", "narrative_edited_at", "narrative", "fetched_at", "status_history",
                   "outcome", "evidence_sent_on", "evidence_due_day_only", "evidence_due_offset",
                   "network_reason_code", "kind"):
        op.drop_column("disputes", column)
