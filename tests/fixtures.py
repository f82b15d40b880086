"""Shared fixtures: sessions, shops, signed webhooks, and real server and worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.shops.models import Shop
from tests.factories import order_payload, session_token, signed_headers

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def db() -> Iterator[Session]:
    """A real session on the test database. Tests scope their data by creating their own shop."""
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture(scope="session")
def app():
    from app.main import create_app

    # The relay is off in-process: tests that need published tasks use the live processes.
    return create_app(start_relay=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_shop(db: Session):
    from app.shops.service import add_shop

    def _make(domain: str | None = None, **kwargs) -> Shop:
        domain = domain or f"shop-{uuid.uuid4().hex[:12]}.myshopify.com"
        shop = add_shop(db, domain=domain, access_token="shpat_" + uuid.uuid4().hex, **kwargs)
        db.commit()
        return shop

    return _make


@pytest.fixture
def shop(make_shop) -> Shop:
    return make_shop()


@pytest.fixture
def post_webhook(client: TestClient):
    def _post(shop_domain: str, topic: str, payload: dict, *, event_id: str | None = None, **kwargs):
        body = json.dumps(payload).encode()
        headers = signed_headers(body, shop_domain=shop_domain, topic=topic, event_id=event_id, **kwargs)
        return client.post("/webhooks/shopify", content=body, headers=headers)

    return _post


@pytest.fixture
def auth_headers():
    def _headers(shop_domain: str, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {session_token(shop_domain, **claims)}"}

    return _headers


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Process:
    """A child process of the test run, its output kept as an artefact."""

    def __init__(self, name: str, argv: list[str]) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.name = name
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603
            argv, cwd=ROOT, env=os.environ.copy(), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The web app with the sandbox mounted, as a real uvicorn process on LIVE_PORT."""
    # From the environment conftest set up, not `from tests.conftest import ...`: pytest loaded
    # conftest as the module "conftest", so importing "tests.conftest" would run it a second time
    # with a new run id and point DROPGUARD_DATABASE_URL at a database that does not exist.
    live_url = os.environ["DROPGUARD_PUBLIC_URL"].rstrip("/")
    server = Process(
        "live-server",
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(urlsplit(live_url).port)],
    )
    try:
        _wait_http(f"{live_url}/healthz")
        yield live_url
    finally:
        server.stop()


def start_worker(name: str = "worker", concurrency: int = 2) -> Process:
    return Process(
        name,
        [sys.executable, "-m", "app.cli", "worker", "--concurrency", str(concurrency), "--beat"],
    )


def purge_task_queues() -> None:
    """Drop task messages nobody consumed (published by the live server's relay for rows that
    in-process tests wrote while no worker ran), so a new worker starts on a clean broker."""
    from app.worker import celery_app

    celery_app.control.purge()


@pytest.fixture(scope="module")
def celery_worker(live_server) -> Iterator[Process]:
    """A real Celery worker process (prefork) with an embedded beat, on the test database.

    Module-scoped on purpose: a worker and its beat act on every row of the run's database, so
    one left running would race the in-process tests of later modules (which call services and
    task functions directly and assert on their results).
    """
    purge_task_queues()
    worker = start_worker()
    time.sleep(3)
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


__all__ = ["order_payload", "wait_for", "start_worker", "Process"]
