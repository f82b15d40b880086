"""No database error text in the logs: a failed statement's text quotes its parameters."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import logs

SECRET = "Jeanne Dupont, 12 rue des Lilas"


def _database_error(db) -> DBAPIError:
    with pytest.raises(DBAPIError) as raised:
        db.execute(text("SELECT CAST(:who AS integer)"), {"who": SECRET})
    db.rollback()
    return raised.value


def _logged(json_lines: bool, emit) -> str:
    stream = io.StringIO()
    logs.configure("INFO", json_lines)
    root = logging.getLogger()
    root.handlers[0].stream = stream
    try:
        emit(logging.getLogger("guard.test"))
    finally:
        logs.configure("WARNING", False)
    return stream.getvalue()


@pytest.mark.parametrize("json_lines", [True, False])
def test_a_database_error_is_logged_by_class_and_place_only(db, json_lines):
    error = _database_error(db)
    assert SECRET in str(error)  # what would have been logged

    def emit(log):
        try:
            raise error
        except DBAPIError as raised:
            log.exception("task.failed: %s", raised, extra={"order_id": 42})
            # As Celery and uvicorn log: the error spelled into the message.
            log.error("Task x raised unexpected: %r", raised, exc_info=True)

    output = _logged(json_lines, emit)
    assert SECRET not in output and "rue des Lilas" not in output
    assert "sqlalchemy.exc.DataError" in output and "psycopg.errors.InvalidTextRepresentation" in output
    assert "test_database_error_logs.py" in output  # where it was raised is kept
    if json_lines:
        first = json.loads(output.splitlines()[0])
        assert first["order_id"] == 42 and first["error_class"] == "sqlalchemy.exc.DataError"


def test_other_errors_keep_their_text():
    def emit(log):
        try:
            raise ValueError("a plain bug")
        except ValueError:
            log.exception("failed")

    assert "a plain bug" in _logged(True, emit)


def test_uvicorn_records_go_through_the_same_handler():
    logs.configure("WARNING", False)
    assert logging.getLogger("uvicorn").handlers == [] and logging.getLogger("uvicorn").propagate
