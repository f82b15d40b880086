"""notifications: stage context, quiet-hours deferral, provider reference; merchant templates

Revision ID: fc78ee3aaa4f
Revises: ab5baf1caaca
Create Date: 2026-11-26 11:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "fc78ee3aaa4f"
down_revision: str | None = "ab5baf1caaca"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("notifications", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("provider_ref", sa.String(length=255), nullable=True))
    op.create_index(
        "ix_notifications_deferred_due",
        "notifications",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'deferred'"),
    )
    op.create_table(
        "notification_templates",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_notification_templates_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_templates")),
        sa.UniqueConstraint("shop_id", "stage", "locale", name=op.f("uq_notification_templates_shop_id_stage_locale")),
    )


def downgrade() -> None:
    op.drop_table("notification_templates")
    op.drop_index("ix_notifications_deferred_due", table_name="notifications", postgresql_where=sa.text("status = 'deferred'"))
    op.drop_column("notifications", "provider_ref")
    op.drop_column("notifications", "due_at")
    op.drop_column("notifications", "context")
