"""Test environment: real PostgreSQL and Redis, a fresh database per run, real processes for E2E.

With DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL set (CI), those servers are used; otherwise the
embedded ones from PyPI wheels are started, exactly as `make run` does on a bare machine.
Every test run gets its own database and its own Redis key prefix, so runs never see each other.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = uuid.uuid4().hex[:10]
_embedded = None

if not (os.environ.get("DROPGUARD_DATABASE_URL") and os.environ.get("DROPGUARD_REDIS_URL")):
    from app.embedded import start as start_embedded

    _EMBEDDED_DIR = ROOT / ".dropguard" / f"test-{os.getpid()}"
    _embedded = start_embedded(_EMBEDDED_DIR, database="postgres")
    os.environ["DROPGUARD_DATABASE_URL"] = _embedded.database_url
    os.environ["DROPGUARD_REDIS_URL"] = _embedded.redis_url

_server_url = make_url(os.environ["DROPGUARD_DATABASE_URL"]).set(drivername="postgresql+psycopg")
TEST_DATABASE = f"dropguard_test_{RUN_ID}"
LIVE_PORT = free_port()
SMTP_PORT = free_port()
LIVE_URL = f"http://127.0.0.1:{LIVE_PORT}"

os.environ.update(
    {
        "DROPGUARD_DATABASE_URL": _server_url.set(database=TEST_DATABASE).render_as_string(hide_password=False),
        "DROPGUARD_REDIS_PREFIX": f"dgtest-{RUN_ID}:",
        "DROPGUARD_SHOPIFY_API_KEY": "test-api-key",
        "DROPGUARD_SHOPIFY_API_SECRET": "test-api-secret",
        "DROPGUARD_SECRET_KEY": "test-secret-key-0123456789",
        "DROPGUARD_PUBLIC_URL": LIVE_URL,
        "DROPGUARD_SHOPIFY_ADMIN_URL": f"{LIVE_URL}/sandbox/shopify/{{shop}}",
        "DROPGUARD_SUPPLIER_API_URL": f"{LIVE_URL}/sandbox/supplier",
        "DROPGUARD_SMTP_HOST": "127.0.0.1",
        "DROPGUARD_SMTP_PORT": str(SMTP_PORT),
        # Each run's worker processes serve their merged metrics on a port of their own.
        "DROPGUARD_WORKER_METRICS_PORT": str(free_port()),
        "DROPGUARD_SANDBOX": "true",
        "DROPGUARD_LOG_JSON": "false",
        "DROPGUARD_LOG_LEVEL": "WARNING",
        "DROPGUARD_TASK_HARD_TIME_LIMIT": "60",
        "DROPGUARD_OUTBOX_SWEEP_AFTER_SECONDS": "2",
        # Quiet hours off: messages go at once whatever hour the suite runs (tests/notifications
        # sets them explicitly where they are the subject).
        "DROPGUARD_QUIET_HOURS": "[0, 0]",
        # Customers' photos from resolution tests: outside the repository, one folder per run.
        "DROPGUARD_UPLOADS_DIR": f"/tmp/dropguard-uploads-{RUN_ID}",
    }
)


def _admin_engine():
    return create_engine(_server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def pytest_sessionstart(session: pytest.Session) -> None:
    from app.migrate import upgrade_to_head

    with _admin_engine().connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{TEST_DATABASE}"'))
    upgrade_to_head()


def _unknown_evidence_kinds() -> set[str]:
    """Kinds the run recorded that app/evidence/kinds.py does not list (every process of the run
    wrote to this database, so the worker's and the web server's events count too)."""
    from app.db import get_engine
    from app.evidence import kinds

    with get_engine().connect() as connection:
        recorded = set(connection.execute(text("SELECT DISTINCT kind FROM evidence_events")).scalars())
    return kinds.unknown(recorded)


# Problems found after the last test: printed after pytest's summary, where a reader of the run's
# tail (CI keeps only the end) sees why a run whose tests all passed still failed.
_run_problems: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    for problem in _run_problems:
        terminalreporter.write_line(f"RUN FAILED: {problem}", red=True, bold=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from app.db import reset_engine

    try:
        unknown = _unknown_evidence_kinds()
    except Exception as error:  # a run that never reached the database has nothing to check
        unknown, reason = set(), type(error).__name__
        print(f"\nevidence kinds not checked: {reason}")
    if unknown:
        _run_problems.append(f"evidence kinds recorded but missing from app/evidence/kinds.py: {', '.join(sorted(unknown))}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reset_engine()
    try:
        with _admin_engine().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)'))
    finally:
        try:
            from app.redis import get_redis

            redis = get_redis()
            for key in redis.scan_iter(match=f"dgtest-{RUN_ID}:*", count=1000):
                redis.delete(key)
        except Exception:  # noqa: S110 - best-effort cleanup of an isolated prefix
            pass
        if _embedded is not None:
            _embedded.stop()
            # Each run initialises its own cluster (tens of MB): keep none of them around.
            shutil.rmtree(_EMBEDDED_DIR, ignore_errors=True)


# Tests driving real server and worker processes depend on scheduling across processes on a
# loaded 2-core machine; they get up to two reruns, reported as such (a logic error fails every
# run). Everything else runs once.
MULTI_PROCESS_FIXTURES = {"live_server", "celery_worker"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if MULTI_PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=2))


pytest_plugins = ["tests.fixtures"]
