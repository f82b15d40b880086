"""The database itself keeps the ledger append-only; redaction is the one sanctioned change."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import get_engine, get_sessionmaker
from app.evidence import canonical
from app.evidence.service import record, verify_chain
from app.shops.service import add_shop
from tests.webhooks.helpers import temporary_database


@pytest.fixture
def chain() -> str:
    """A chain of three events (the middle one with personal data), erased again afterwards."""
    name = f"guard-{uuid.uuid4().hex[:12]}.myshopify.com"
    with get_sessionmaker()() as session:
        record(session, chain=name, kind="test.first", source="test", data={"n": 1})
        record(
            session,
            chain=name,
            kind="test.personal",
            source="test",
            data={"n": 2, "stage": "shipped"},
            personal={"email": "ada@example.com", "name": "Ada Lovelace"},
        )
        record(session, chain=name, kind="test.third", source="test", data={"n": 3})
        session.commit()
    yield name
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL dropguard.erasure = 'on'"))
        connection.execute(text("DELETE FROM evidence_events WHERE chain = :c"), {"c": name})
        connection.execute(text("DELETE FROM ledger_heads WHERE chain = :c"), {"c": name})


def _event(chain: str, seq: int):
    with get_engine().connect() as connection:
        return connection.execute(
            text("SELECT * FROM evidence_events WHERE chain = :c AND seq = :s"), {"c": chain, "s": seq}
        ).one()


def _verify(chain: str):
    with get_sessionmaker()() as session:
        return verify_chain(session, chain)


def _refused(statement: str, params: dict, *, redaction: bool = False) -> None:
    with get_engine().connect() as connection:
        try:
            with pytest.raises(DBAPIError) as caught:
                if redaction:
                    connection.execute(text("SET LOCAL dropguard.redaction = 'on'"))
                connection.execute(text(statement), params)
        finally:
            connection.rollback()  # never commit whatever a missing guard would have let through
    assert caught.value.orig.sqlstate == "42501"
    assert "append-only" in str(caught.value.orig)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE evidence_events SET data = '{\"n\": 99}' WHERE chain = :c AND seq = 2",
        "UPDATE evidence_events SET kind = 'test.other' WHERE chain = :c AND seq = 1",
        "UPDATE evidence_events SET recorded_at = recorded_at WHERE chain = :c",  # even a no-op
        "DELETE FROM evidence_events WHERE chain = :c AND seq = 3",
        "DELETE FROM evidence_events WHERE chain = :c",
    ],
)
def test_update_and_delete_are_refused(chain, statement):
    _refused(statement, {"c": chain})
    assert _verify(chain).checked == 3


def test_truncate_is_refused():
    # On a database of its own: TRUNCATE queues for an exclusive lock that would stall every other
    # process of the run. TRUNCATE is transactional, so were the guard missing, nothing is lost.
    with temporary_database(migrated=True) as url:
        engine = create_engine(url)
        try:
            with Session(engine) as session:
                add_shop(session, domain="truncate-me.myshopify.com", access_token="shpat_x")
                session.commit()
            for statement in ("TRUNCATE evidence_events", "TRUNCATE shops CASCADE"):
                with engine.connect() as connection, pytest.raises(DBAPIError) as caught:
                    connection.execute(text(statement))
                assert caught.value.orig.sqlstate == "42501", statement
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM evidence_events")).scalar_one() == 1
        finally:
            engine.dispose()


def test_redaction_nulls_the_personal_part_and_the_chain_still_verifies(chain):
    before = _event(chain, 2)
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL dropguard.redaction = 'on'"))
        connection.execute(
            text("UPDATE evidence_events SET personal = NULL, personal_salt = NULL WHERE chain = :c AND seq = 2"),
            {"c": chain},
        )
    after = _event(chain, 2)
    assert (after.personal, after.personal_salt) == (None, None)
    # The salted digest stays: the non-personal content still proves itself, the email is gone.
    assert after.personal_digest == before.personal_digest
    assert (after.digest, after.hash, after.data) == (before.digest, before.hash, before.data)
    report = _verify(chain)
    assert (report.intact, report.checked) == (True, 3), report


def test_personal_digest_is_salted(chain):
    event = _event(chain, 2)
    unsalted = canonical.sha256_hex(canonical.canonical({"email": "ada@example.com", "name": "Ada Lovelace"}))
    assert event.personal_digest != unsalted
    assert event.personal_digest == canonical.personal_digest(event.personal, bytes(event.personal_salt))
    assert "ada@example.com" not in str(event.data)


@pytest.mark.parametrize(
    "assignment",
    [
        "personal = NULL",  # the salt would stay behind
        "personal_salt = NULL",
        "personal = NULL, personal_salt = NULL, personal_digest = NULL",
        "personal = NULL, personal_salt = NULL, data = '{\"n\": 2}'",
        "personal = NULL, personal_salt = NULL, kind = 'test.redacted'",
        "personal = NULL, personal_salt = NULL, occurred_at = now()",
        "personal = NULL, personal_salt = NULL, hash = repeat('a', 64)",
        "personal = NULL, personal_salt = NULL, seq = 7",
        "personal = '{\"email\": \"someone@else.com\"}'",
    ],
)
def test_redaction_may_change_nothing_else(chain, assignment):
    statement = f"UPDATE evidence_events SET {assignment} WHERE chain = :c AND seq = 2"  # noqa: S608 - fixed cases
    _refused(statement, {"c": chain}, redaction=True)
    assert _event(chain, 2).personal == {"email": "ada@example.com", "name": "Ada Lovelace"}


def test_redaction_needs_the_setting_and_it_lasts_one_transaction(chain):
    nulling = "UPDATE evidence_events SET personal = NULL, personal_salt = NULL WHERE chain = :c AND seq = 2"
    _refused(nulling, {"c": chain})
    with get_engine().connect() as connection:
        with connection.begin():
            connection.execute(text("SET LOCAL dropguard.redaction = 'on'"))
        with pytest.raises(DBAPIError), connection.begin():
            connection.execute(text(nulling), {"c": chain})
    assert _event(chain, 2).personal is not None


def test_deleting_needs_the_erasure_setting(chain):
    _refused("DELETE FROM evidence_events WHERE chain = :c", {"c": chain}, redaction=True)


def test_an_insert_cannot_choose_its_place_in_the_chain(chain):
    head = _event(chain, 3)
    with get_engine().begin() as connection:
        forged = connection.execute(
            text(
                "INSERT INTO evidence_events (chain, seq, kind, source, occurred_at, recorded_at, data, digest,"
                " prev_hash, hash) VALUES (:c, 1, 'test.forged', 'test', now(), '2001-01-01', '{}', :d,"
                " repeat('0', 64), repeat('f', 64)) RETURNING seq, prev_hash, hash, recorded_at"
            ),
            {"c": chain, "d": "d" * 64},
        ).one()
    assert forged.seq == 4
    assert forged.prev_hash == head.hash
    assert forged.hash != "f" * 64
    assert forged.recorded_at.year > 2001
    # Its digest was made up, so verify names it; the links around it are the trigger's own.
    report = _verify(chain)
    assert (report.broken_seq, report.reason) == (4, "content does not match its digest")


def test_an_append_that_rolls_back_leaves_no_gap(chain):
    with get_sessionmaker()() as session:
        record(session, chain=chain, kind="test.rolled_back", source="test", data={})
        session.rollback()
        record(session, chain=chain, kind="test.kept", source="test", data={})
        session.commit()
    assert _event(chain, 4).kind == "test.kept"
    assert _verify(chain).intact
