"""`dropguard ledger verify`: intact chains pass, any change made behind the trigger's back is named.

Tampering uses what a database owner could do (replication role, disabled triggers); the CLI runs
as a real subprocess. Tampered chains are erased afterwards so that a global verify stays green.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, text

from app.db import get_engine, get_sessionmaker
from app.evidence.service import chains, record, verify_chain
from tests.fixtures import ROOT

EVENTS = 5


def _erase(chain: str) -> None:
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL dropguard.erasure = 'on'"))
        connection.execute(text("DELETE FROM evidence_events WHERE chain = :c"), {"c": chain})
        connection.execute(text("DELETE FROM ledger_heads WHERE chain = :c"), {"c": chain})


@pytest.fixture
def make_chain() -> Iterator[Callable[[int], str]]:
    made: list[str] = []

    def _make(events: int = EVENTS) -> str:
        name = f"ledger-{uuid.uuid4().hex[:12]}.myshopify.com"
        made.append(name)
        with get_sessionmaker()() as session:
            for n in range(1, events + 1):
                record(
                    session,
                    chain=name,
                    kind="test.event",
                    source="test",
                    data={"n": n, "amount": "19.90", "nested": {"list": [1, 2.5, None, "x"]}},
                    personal={"email": f"buyer{n}@example.com"} if n % 2 else None,
                )
            session.commit()
        return name

    yield _make
    for name in made:
        _erase(name)


def _event_id(chain: str, seq: int) -> int:
    with get_engine().connect() as connection:
        return connection.execute(
            text("SELECT id FROM evidence_events WHERE chain = :c AND seq = :s"), {"c": chain, "s": seq}
        ).scalar_one()


def _behind_the_trigger(statement: str, params: dict) -> None:
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(statement), params)


def _with_trigger_disabled(statement: str, params: dict) -> None:
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        connection.execute(text("ALTER TABLE evidence_events DISABLE TRIGGER evidence_events_guard"))
        connection.execute(text(statement), params)
        connection.execute(text("ALTER TABLE evidence_events ENABLE TRIGGER evidence_events_guard"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "ledger", "verify", *args],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60, check=False,
    )


def _verify(chain: str):
    with get_sessionmaker()() as session:
        return verify_chain(session, chain)


def test_intact_chain_verifies_with_its_count(make_chain):
    chain = make_chain()
    result = _cli("--shop", chain)
    assert result.returncode == 0, result.stderr
    assert f"checked {EVENTS} events in 1 chains; all intact" in result.stdout


@pytest.mark.parametrize("tamper", [_behind_the_trigger, _with_trigger_disabled], ids=["replica_role", "disabled"])
def test_changed_event_is_named_by_the_cli(make_chain, tamper):
    chain = make_chain()
    target = _event_id(chain, 3)
    tamper("UPDATE evidence_events SET data = jsonb_set(data, '{amount}', '\"0.01\"') WHERE id = :id", {"id": target})

    result = _cli("--shop", chain)

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"BROKEN {chain}: event {target} (seq 3): content does not match its digest" in result.stderr
    assert "1 broken" in result.stdout


def test_cli_without_shop_checks_every_chain_and_names_the_broken_one(make_chain):
    intact, broken = make_chain(), make_chain()
    target = _event_id(broken, 2)
    _behind_the_trigger("UPDATE evidence_events SET kind = 'test.other' WHERE id = :id", {"id": target})
    result = _cli()
    assert result.returncode == 1
    assert f"BROKEN {broken}: event {target} (seq 2)" in result.stderr
    assert intact not in result.stderr


@pytest.mark.parametrize(
    ("statement", "seq", "reason"),
    [
        ("UPDATE evidence_events SET personal = '{\"email\": \"x@example.com\"}' WHERE id = :id", 3,
         "personal data does not match its digest"),
        ("UPDATE evidence_events SET personal_salt = '\\x00'::bytea WHERE id = :id", 3,
         "personal data does not match its digest"),
        ("UPDATE evidence_events SET occurred_at = occurred_at - interval '1 day' WHERE id = :id", 3,
         "content does not match its digest"),
        ("UPDATE evidence_events SET order_id = NULL, source = 'other' WHERE id = :id", 3,
         "content does not match its digest"),
        ("UPDATE evidence_events SET recorded_at = recorded_at + interval '1 microsecond' WHERE id = :id", 3,
         "chain hash does not match"),
        ("DELETE FROM evidence_events WHERE id = :id", 4, "sequence gap: expected 3, found 4"),
    ],
    ids=["personal", "salt", "occurred_at", "source", "recorded_at", "deleted_middle"],
)
def test_every_kind_of_change_is_found(make_chain, statement, seq, reason):
    chain = make_chain()
    _behind_the_trigger(statement, {"id": _event_id(chain, 3)})
    report = _verify(chain)
    assert (report.intact, report.broken_seq, report.reason) == (False, seq, reason)


def test_rewritten_chain_with_recomputed_digest_is_found_by_the_next_link(make_chain):
    chain = make_chain()
    # A forger who recomputes the digest of event 2 still cannot make event 3's prev_hash agree.
    _behind_the_trigger(
        "UPDATE evidence_events SET hash = repeat('a', 64) WHERE chain = :c AND seq = 2", {"c": chain}
    )
    report = _verify(chain)
    assert (report.broken_seq, report.reason) == (2, "chain hash does not match")


def test_deleted_tail_is_found_through_the_ledger_head(make_chain):
    chain = make_chain()
    _behind_the_trigger("DELETE FROM evidence_events WHERE chain = :c AND seq >= 4", {"c": chain})
    last_kept = _event_id(chain, 3)

    report = _verify(chain)
    assert (report.intact, report.checked, report.broken_event_id) == (False, 3, last_kept)
    assert "head is at seq 5" in report.reason

    result = _cli("--shop", chain)
    assert result.returncode == 1
    assert f"event {last_kept} (seq 3)" in result.stderr
    assert "head is at seq 5" in result.stderr


def test_head_that_disagrees_with_the_last_event_is_reported(make_chain):
    chain = make_chain(3)
    _behind_the_trigger("UPDATE ledger_heads SET hash = repeat('b', 64) WHERE chain = :c", {"c": chain})
    report = _verify(chain)
    assert (report.intact, report.broken_event_id) == (False, _event_id(chain, 3))
    assert "head recorded" in report.reason


def test_fully_deleted_chain_is_still_listed_and_reported(make_chain):
    chain = make_chain(2)
    _behind_the_trigger("DELETE FROM evidence_events WHERE chain = :c", {"c": chain})
    with get_sessionmaker()() as session:
        assert chain in chains(session)
    report = _verify(chain)
    assert (report.intact, report.checked) == (False, 0)
    assert "head is at seq 2" in report.reason


def test_redacted_chain_still_verifies(make_chain):
    chain = make_chain()
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL dropguard.redaction = 'on'"))
        connection.execute(
            text("UPDATE evidence_events SET personal = NULL, personal_salt = NULL WHERE chain = :c"), {"c": chain}
        )
    report = _verify(chain)
    assert (report.intact, report.checked) == (True, EVENTS), report


def test_events_appended_while_verifying_are_left_for_the_next_run(make_chain):
    chain = make_chain(3)
    statements: list[str] = []
    with get_sessionmaker()() as reader:

        @event.listens_for(reader, "do_orm_execute")
        def _append_after_the_head_is_read(state) -> None:
            statements.append(str(state.statement))
            if len(statements) == 2:  # the head was read; the events are about to be streamed
                with get_sessionmaker()() as writer:
                    record(writer, chain=chain, kind="test.late", source="test", data={})
                    writer.commit()

        report = verify_chain(reader, chain)
    assert "ledger_heads" in statements[0]
    assert (report.intact, report.checked) == (True, 3), report
    assert _verify(chain).checked == 4


@pytest.mark.parametrize("layout", ["one_chain", "own_chains"])
def test_concurrent_appends_keep_every_chain_gapless(make_chain, layout):
    threads, per_thread = 8, 15
    names = [make_chain(0) for _ in range(1 if layout == "one_chain" else threads)]
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(index: int) -> None:
        chain = names[index % len(names)]
        try:
            barrier.wait(timeout=30)
            with get_sessionmaker()() as session:
                for n in range(per_thread):
                    record(session, chain=chain, kind="test.concurrent", source="test", data={"t": index, "n": n})
                    if n % 3 == 2:
                        session.commit()  # mix one-event and several-event transactions
                session.commit()
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    workers = [threading.Thread(target=append, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []

    expected = threads * per_thread // len(names)
    with get_engine().connect() as connection:
        for chain in names:
            seqs = connection.execute(
                text("SELECT seq FROM evidence_events WHERE chain = :c ORDER BY seq"), {"c": chain}
            ).scalars().all()
            assert seqs == list(range(1, expected + 1))
    for chain in names:
        report = _verify(chain)
        assert (report.intact, report.checked) == (True, expected), report
    result = _cli("--shop", names[0])
    assert result.returncode == 0, result.stderr


def test_events_carry_their_hash_version_and_a_changed_version_is_named(make_chain):
    chain = make_chain()
    with get_engine().connect() as connection:
        versions = set(connection.execute(
            text("SELECT DISTINCT hash_version FROM evidence_events WHERE chain = :c"), {"c": chain}).scalars())
    assert versions == {1}
    target = _event_id(chain, 4)
    _behind_the_trigger("UPDATE evidence_events SET hash_version = 7 WHERE id = :id", {"id": target})
    report = _verify(chain)
    assert (report.broken_seq, report.reason) == (4, "hashed with version 7, which this build does not know")


def test_the_database_refuses_an_event_hashed_with_an_unknown_version(make_chain):
    chain = make_chain(1)
    with pytest.raises(Exception, match="has no chain rule"), get_engine().begin() as connection:
        connection.execute(text(
            "INSERT INTO evidence_events (chain, kind, source, occurred_at, data, digest, hash_version) "
            "VALUES (:c, 'test.event', 'test', now(), '{}', repeat('a', 64), 2)"), {"c": chain})


def test_redaction_cannot_change_the_hash_version(make_chain):
    chain = make_chain()
    target = _event_id(chain, 1)
    with pytest.raises(Exception, match="append-only"), get_engine().begin() as connection:
        connection.execute(text("SET LOCAL dropguard.redaction = 'on'"))
        connection.execute(text("UPDATE evidence_events SET personal = NULL, personal_salt = NULL, hash_version = 2 "
                                "WHERE id = :id"), {"id": target})
