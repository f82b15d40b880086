"""evidence events carry the version of the hashing rules that made their digest and link

Revision ID: 6d2f8b4e1a90
Revises: 8d4b1f6c2a93
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d2f8b4e1a90"
down_revision: str | None = "8d4b1f6c2a93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The guard now also keeps hash_version fixed under redaction (it is part of what proves an
# event), and the chain trigger refuses a version it cannot link (only version 1 exists).
_GUARD = """
    CREATE OR REPLACE FUNCTION evidence_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND current_setting('dropguard.redaction', true) = 'on'
           AND NEW.personal IS NULL AND NEW.personal_salt IS NULL
           AND (NEW.id, NEW.chain, NEW.seq, NEW.shop_id, NEW.order_id, NEW.kind, NEW.source,
                NEW.occurred_at, NEW.recorded_at, NEW.data, NEW.personal_digest, NEW.digest,
                NEW.prev_hash, NEW.hash, NEW.webhook_delivery_id{version_new})
               IS NOT DISTINCT FROM
               (OLD.id, OLD.chain, OLD.seq, OLD.shop_id, OLD.order_id, OLD.kind, OLD.source,
                OLD.occurred_at, OLD.recorded_at, OLD.data, OLD.personal_digest, OLD.digest,
                OLD.prev_hash, OLD.hash, OLD.webhook_delivery_id{version_old}) THEN
            RETURN NEW;
        END IF;
        IF TG_OP IN ('DELETE', 'TRUNCATE') AND current_setting('dropguard.erasure', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'evidence_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$
"""
_CHAIN = """
    CREATE OR REPLACE FUNCTION evidence_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        head_seq bigint;
        head_hash text;
    BEGIN
        {version_check}
        SELECT seq, hash INTO head_seq, head_hash FROM ledger_heads WHERE chain = NEW.chain FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO ledger_heads (chain, seq, hash) VALUES (NEW.chain, 0, repeat('0', 64))
                ON CONFLICT (chain) DO NOTHING;
            SELECT seq, hash INTO head_seq, head_hash FROM ledger_heads WHERE chain = NEW.chain FOR UPDATE;
        END IF;
        NEW.seq := head_seq + 1;
        NEW.prev_hash := head_hash;
        NEW.recorded_at := clock_timestamp();
        NEW.hash := encode(sha256(convert_to(
            NEW.prev_hash || '|' || NEW.seq || '|'
            || (extract(epoch FROM NEW.recorded_at) * 1000000)::bigint || '|' || NEW.digest,
            'UTF8')), 'hex');
        UPDATE ledger_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
        RETURN NEW;
    END $$
"""
_VERSION_CHECK = """IF NEW.hash_version <> 1 THEN
            RAISE EXCEPTION 'evidence hash version % has no chain rule', NEW.hash_version
                USING ERRCODE = 'invalid_parameter_value';
        END IF;"""


def upgrade() -> None:
    op.add_column("evidence_events", sa.Column("hash_version", sa.SmallInteger(), server_default=sa.text("1"),
                                               nullable=False))
    op.execute(_GUARD.format(version_new=", NEW.hash_version", version_old=", OLD.hash_version"))
    op.execute(_CHAIN.format(version_check=_VERSION_CHECK))


def downgrade() -> None:
    op.execute(_CHAIN.format(version_check=""))
    op.execute(_GUARD.format(version_new="", version_old=""))
    op.drop_column("evidence_events", "hash_version")
