"""The daily chain-head digest: written once a day, e-mailed, and a history rewritten behind the
database's guard (even with every later hash and the head recomputed, which the chain check alone
cannot see) is found against an earlier digest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import select, text

from app.alerts.models import ChainDigest, MerchantMail
from app.db import get_engine
from app.evidence import canonical, digest
from app.evidence.models import EvidenceEvent
from app.evidence.service import record, verify_chain

ROOT = Path(__file__).resolve().parents[2]
DAY1, DAY2 = date(2026, 12, 1), date(2026, 12, 2)


def _events(db, shop, count: int) -> None:
    for n in range(count):
        record(db, chain=shop.domain, shop_id=shop.id, kind="test.event", source="test",
               data={"n": n, "amount": "40.00"})
    db.commit()


def _rewrite_from(chain: str, seq: int, amount: str) -> None:
    """What a superuser could do: change one event's content, then recompute its digest and every
    later link and the head, so that the chain verifies again (trigger bypassed, replica role)."""
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        rows = connection.execute(text("SELECT * FROM evidence_events WHERE chain = :c ORDER BY seq"),
                                  {"c": chain}).mappings().all()
        prev = canonical.GENESIS_HASH
        for row in rows:
            data = dict(row["data"])
            if row["seq"] == seq:
                data["amount"] = amount
            new_digest = canonical.content_digest(
                chain=row["chain"], kind=row["kind"], source=row["source"], order_id=row["order_id"],
                occurred_at=row["occurred_at"], data=data, personal_digest=row["personal_digest"],
                version=row["hash_version"])
            new_hash = canonical.link_hash(prev_hash=prev, seq=row["seq"], recorded_at=row["recorded_at"],
                                           digest=new_digest, version=row["hash_version"])
            connection.execute(text("UPDATE evidence_events SET data = CAST(:d AS jsonb), digest = :g,"
                                    " prev_hash = :p, hash = :h WHERE id = :id"),
                               {"d": json.dumps(data), "g": new_digest, "p": prev, "h": new_hash, "id": row["id"]})
            prev = new_hash
        connection.execute(text("UPDATE ledger_heads SET hash = :h WHERE chain = :c"), {"h": prev, "c": chain})


def test_one_digest_a_day_in_the_ledger_and_the_merchants_mailbox(db, shop):
    _events(db, shop, 3)
    before = digest.head(db, shop.domain)
    first = digest.record_day(db, shop, DAY1)
    db.commit()
    # The shop's install event and the three events: the head as it was, with its hash.
    assert before.seq == 4
    assert (first.seq, first.hash, first.head_at) == (4, before.hash, before.at)
    assert first.hash == db.scalar(select(EvidenceEvent.hash).where(
        EvidenceEvent.chain == shop.domain, EvidenceEvent.seq == 4))
    assert digest.record_day(db, shop, DAY1) is None  # the same day again: nothing new
    db.commit()
    (mail,) = db.scalars(select(MerchantMail).where(MerchantMail.shop_id == shop.id)).all()
    assert mail.key == "digest:2026-12-01" and first.hash in mail.body and "4 events" in mail.subject
    # The digest's own ledger event is the next link, named by the next day's digest.
    second = digest.record_day(db, shop, DAY2)
    db.commit()
    assert second.seq == 5
    assert [d.day for d in digest.history(db, shop.id)] == [DAY2, DAY1]
    assert digest.check(db, shop).intact


def test_a_rewritten_history_that_still_verifies_is_found_against_the_digest(db, shop):
    _events(db, shop, 5)
    day1 = digest.record_day(db, shop, DAY1)
    db.commit()
    _events(db, shop, 2)

    _rewrite_from(shop.domain, 2, "0.01")

    db.expire_all()
    assert verify_chain(db, shop.domain).intact  # the links alone cannot tell
    result = digest.check(db, shop)
    assert not result.intact and result.broken_day == DAY1
    assert f"seq {day1.seq}" in result.reason and "rewritten" in result.reason


def test_a_changed_row_without_recomputed_links_is_found_too(db, shop):
    _events(db, shop, 3)
    digest.record_day(db, shop, DAY1)
    db.commit()
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        connection.execute(text("ALTER TABLE evidence_events DISABLE TRIGGER evidence_events_guard"))
        connection.execute(text("UPDATE evidence_events SET data = jsonb_set(data, '{amount}', '\"0.01\"')"
                                " WHERE chain = :c AND seq = 3"), {"c": shop.domain})
        connection.execute(text("ALTER TABLE evidence_events ENABLE TRIGGER evidence_events_guard"))
    result = digest.check(db, shop)
    assert not result.intact and "seq 3" in result.reason and result.broken_day == DAY1


def test_the_cli_names_the_rewritten_shop(db, shop, make_shop):
    _events(db, shop, 3)
    digest.record_day(db, shop, DAY1)
    other = make_shop()
    _events(db, other, 2)
    digest.record_day(db, other, DAY1)
    db.commit()

    def run(domain):
        return subprocess.run([sys.executable, "-m", "app.cli", "ledger", "check-digests", "--shop", domain],
                              cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60,
                              check=False)

    assert run(other.domain).returncode == 0
    _rewrite_from(shop.domain, 2, "0.01")
    result = run(shop.domain)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"REWRITTEN {shop.domain}: digest of 2026-12-01" in result.stderr
    assert run(other.domain).returncode == 0
    assert db.scalar(select(EvidenceEvent.kind).where(EvidenceEvent.chain == shop.domain)
                     .order_by(EvidenceEvent.seq.desc()).limit(1)) == "ledger.digest_check_failed"
    assert db.scalar(select(ChainDigest.seq).where(ChainDigest.shop_id == shop.id)) == 4
