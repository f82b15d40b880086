"""risk: order signals, outcome facts, history counts, per-shop models, scores and risk cards

Revision ID: 4d1f7b3e9a26
Revises: 6d2f8b4e1a90
Create Date: 2026-12-03 13:38:00
"""
from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '4d1f7b3e9a26'
down_revision: str | None = '6d2f8b4e1a90'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('risk_models',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data_through', sa.DateTime(timezone=True), nullable=False),
    sa.Column('label_days', sa.BigInteger(), nullable=False),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('evaluation', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_risk_models_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_models')),
    sa.UniqueConstraint('shop_id', 'version', name=op.f('uq_risk_models_shop_id_version'))
    )
    op.create_index(op.f('ix_risk_models_shop_id'), 'risk_models', ['shop_id'], unique=False)
    op.create_table('risk_rates',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('orders', sa.BigInteger(), nullable=False),
    sa.Column('bad', sa.BigInteger(), nullable=False),
    sa.Column('median_value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_risk_rates_shop_id_shops')),
    sa.PrimaryKeyConstraint('shop_id', 'dimension', 'key', name=op.f('pk_risk_rates'))
    )
    op.create_table('risk_cards',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('facts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_risk_cards_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_risk_cards_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_cards')),
    sa.UniqueConstraint('order_id', 'digest', name=op.f('uq_risk_cards_order_id_digest'))
    )
    op.create_index(op.f('ix_risk_cards_shop_id'), 'risk_cards', ['shop_id'], unique=False)
    op.create_table('risk_outcomes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('bad', sa.Boolean(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exact_time', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('source_ref', sa.String(length=128), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_risk_outcomes_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_risk_outcomes_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_outcomes')),
    sa.UniqueConstraint('shop_id', 'kind', 'source_ref', name=op.f('uq_risk_outcomes_shop_id_kind_source_ref'))
    )
    op.create_index(op.f('ix_risk_outcomes_order_id'), 'risk_outcomes', ['order_id'], unique=False)
    op.create_index('ix_risk_outcomes_shop_id_occurred_at', 'risk_outcomes', ['shop_id', 'occurred_at'], unique=False)
    op.create_table('risk_scores',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('reasons', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('features', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('model_kind', sa.String(length=16), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=False),
    sa.Column('model_id', sa.BigInteger(), nullable=True),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trigger', sa.String(length=48), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['risk_models.id'], name=op.f('fk_risk_scores_model_id_risk_models'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_risk_scores_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_risk_scores_shop_id_shops')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_risk_scores'))
    )
    op.create_index('ix_risk_scores_shop_id_level', 'risk_scores', ['shop_id', 'level'], unique=False)
    op.create_table('risk_signals',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('destination', sa.String(length=2), nullable=True),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('facts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_risk_signals_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_risk_signals_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_risk_signals_shop_id_shops')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_risk_signals'))
    )
    op.create_index('ix_risk_signals_shop_id_customer_id', 'risk_signals', ['shop_id', 'customer_id'], unique=False)
    op.create_index('ix_risk_signals_shop_id_placed_at', 'risk_signals', ['shop_id', 'placed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_risk_signals_shop_id_placed_at', table_name='risk_signals')
    op.drop_index('ix_risk_signals_shop_id_customer_id', table_name='risk_signals')
    op.drop_table('risk_signals')
    op.drop_index('ix_risk_scores_shop_id_level', table_name='risk_scores')
    op.drop_table('risk_scores')
    op.drop_index('ix_risk_outcomes_shop_id_occurred_at', table_name='risk_outcomes')
    op.drop_index(op.f('ix_risk_outcomes_order_id'), table_name='risk_outcomes')
    op.drop_table('risk_outcomes')
    op.drop_index(op.f('ix_risk_cards_shop_id'), table_name='risk_cards')
    op.drop_table('risk_cards')
    op.drop_table('risk_rates')
    op.drop_index(op.f('ix_risk_models_shop_id'), table_name='risk_models')
    op.drop_table('risk_models')
