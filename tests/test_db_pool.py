"""The engine's pool pings a connection only after it sat idle (app/db.py): one that died idle is
replaced before use; one that dies between two quick uses fails one statement, and the pool then
starts again with fresh connections."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from app import db as dbmod
from app.config import get_settings
from app.db import get_engine, get_sessionmaker


def _backend_pid(session) -> int:
    return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pid: int) -> None:
    # From a connection of its own, outside the pool under test.
    outside = create_engine(get_settings().database_url, poolclass=NullPool)
    with outside.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        connection.commit()
    outside.dispose()


def _age_idle_connections() -> None:
    for record in list(get_engine().pool._pool.queue):  # noqa: SLF001 - the pooled records
        record.info["idle_since"] -= dbmod.PING_AFTER_IDLE_SECONDS + 1


def test_a_connection_killed_while_idle_is_replaced_before_use(db):
    with get_sessionmaker()() as session:
        dead = _backend_pid(session)
    _terminate(dead)
    _age_idle_connections()
    with get_sessionmaker()() as session:
        assert _backend_pid(session) != dead


def test_a_connection_killed_between_quick_uses_fails_once_then_the_pool_recovers(db):
    # Only the connection under test in the pool: with others idle there (earlier tests'), the next
    # checkout could take one of them and never meet the dead one.
    get_engine().dispose()
    with get_sessionmaker()() as session:
        dead = _backend_pid(session)
    _terminate(dead)
    with get_sessionmaker()() as session, pytest.raises(OperationalError):
        _backend_pid(session)  # not pinged: used a moment ago
    with get_sessionmaker()() as session:
        assert _backend_pid(session) != dead
