"""insights: order facts, incremental aggregates and breakdowns, classified customer messages

Revision ID: 4d1f7a2c9e35
Revises: 4d1f7b3e9a26
Create Date: 2026-12-03 13:40:44.509024
"""
from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '4d1f7a2c9e35'
down_revision: str | None = '4d1f7b3e9a26'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('insights_aggregates',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('supplier_id', sa.BigInteger(), nullable=False),
    sa.Column('destination', sa.String(length=2), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('product_key', sa.String(length=64), nullable=False),
    sa.Column('measures', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_insights_aggregates_shop_id_shops')),
    sa.PrimaryKeyConstraint('shop_id', 'period', 'supplier_id', 'destination', 'carrier', 'product_key', name=op.f('pk_insights_aggregates'))
    )
    op.create_table('insights_breakdowns',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('supplier_id', sa.BigInteger(), nullable=False),
    sa.Column('destination', sa.String(length=2), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('product_key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('measures', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_insights_breakdowns_shop_id_shops')),
    sa.PrimaryKeyConstraint('shop_id', 'period', 'supplier_id', 'destination', 'carrier', 'product_key', 'kind', 'reason', 'bucket', name=op.f('pk_insights_breakdowns'))
    )
    op.create_table('customer_messages',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('urgent', sa.Boolean(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.Column('because', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('classified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('corrected_reason', sa.String(length=32), nullable=True),
    sa.Column('corrected_urgent', sa.Boolean(), nullable=True),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_customer_messages_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_customer_messages_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_messages')),
    sa.UniqueConstraint('shop_id', 'source', 'source_ref', name=op.f('uq_customer_messages_shop_id_source_source_ref'))
    )
    op.create_index('ix_customer_messages_corrected', 'customer_messages', ['shop_id'], unique=False, postgresql_where=sa.text('corrected_at IS NOT NULL'))
    op.create_index('ix_customer_messages_order', 'customer_messages', ['order_id'], unique=False)
    op.create_index('ix_customer_messages_shop_received', 'customer_messages', ['shop_id', 'received_at'], unique=False)
    op.create_table('insights_order_facts',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('order_name', sa.String(length=64), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('supplier_id', sa.BigInteger(), nullable=False),
    sa.Column('destination', sa.String(length=2), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('product_key', sa.String(length=64), nullable=False),
    sa.Column('product_title', sa.String(length=512), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('revenue', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('facts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('outcomes', postgresql.ARRAY(sa.String(length=16)), server_default='{}', nullable=False),
    sa.Column('contribution', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_insights_order_facts_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_insights_order_facts_shop_id_shops')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_insights_order_facts'))
    )
    op.create_index('ix_insights_order_facts_shop_period', 'insights_order_facts', ['shop_id', 'period', 'order_id'], unique=False)
    op.create_index('ix_insights_order_facts_shop_supplier', 'insights_order_facts', ['shop_id', 'supplier_id', 'period', 'order_id'], unique=False)
    op.create_index('ix_insights_order_facts_shop_product', 'insights_order_facts', ['shop_id', 'product_key'], unique=False)
    op.create_index('ix_insights_order_facts_outcomes', 'insights_order_facts', ['outcomes'], unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_insights_order_facts_outcomes', table_name='insights_order_facts', postgresql_using='gin')
    op.drop_index('ix_insights_order_facts_shop_product', table_name='insights_order_facts')
    op.drop_index('ix_insights_order_facts_shop_supplier', table_name='insights_order_facts')
    op.drop_index('ix_insights_order_facts_shop_period', table_name='insights_order_facts')
    op.drop_table('insights_order_facts')
    op.drop_index('ix_customer_messages_shop_received', table_name='customer_messages')
    op.drop_index('ix_customer_messages_order', table_name='customer_messages')
    op.drop_index('ix_customer_messages_corrected', table_name='customer_messages', postgresql_where=sa.text('corrected_at IS NOT NULL'))
    op.drop_table('customer_messages')
    op.drop_table('insights_breakdowns')
    op.drop_table('insights_aggregates')
