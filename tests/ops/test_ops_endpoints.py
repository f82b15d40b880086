"""Operations endpoints and logging: /healthz, /readyz, /metrics, request ids, JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import uuid

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app import logs, ops
from app.embedded import free_port
from app.outbox.service import enqueue
from tests.factories import order_payload
from tests.fixtures import start_worker, wait_for
from tests.webhooks.helpers import temporary_database


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_database_redis_and_migrations_are(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"ready": True, "checks": {"database": "ok", "migrations": "ok", "redis": "ok"}}


def test_not_ready_when_migrations_are_behind(client, monkeypatch):
    monkeypatch.setattr(ops, "head_revision", lambda: "a_newer_revision")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["database"] == "ok"
    assert "code expects a_newer_revision" in body["checks"]["migrations"]


def test_not_ready_when_database_is_down(client, monkeypatch):
    dead = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    monkeypatch.setattr(ops, "get_engine", lambda: dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")
    assert response.json()["checks"]["redis"] == "ok"


def test_not_ready_when_redis_is_down(client, monkeypatch):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    monkeypatch.setattr(ops, "get_redis", lambda: dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("unavailable")


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_ingest_by_bounded_topic(client, shop, post_webhook):
    before = client.get("/metrics").text
    assert post_webhook(shop.domain, "orders/create", order_payload()).status_code == 200
    weird = f"made-up/{uuid.uuid4().hex}"
    assert post_webhook(shop.domain, weird, {"id": 1}).status_code == 200
    bad = client.post(
        "/webhooks/shopify", content=b"{}",
        headers={"X-Shopify-Topic": f"junk/{uuid.uuid4().hex}", "X-Shopify-Hmac-Sha256": "nope"},
    )
    assert bad.status_code == 401
    after = client.get("/metrics")
    assert after.status_code == 200
    text = after.text
    created = 'dropguard_webhooks_total{outcome="queued",source="shopify",topic="orders/create"}'
    assert _sample(text, created) == _sample(before, created) + 1
    # Attacker-chosen topics never become label values.
    assert weird not in text and "junk/" not in text
    assert 'topic="other"' in text
    assert "dropguard_outbox_lag_seconds" in text


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    # Not something that could forge log lines or headers.
    forged = client.get("/healthz", headers={"X-Request-Id": "x" * 500})
    assert forged.headers["x-request-id"] != "x" * 500


def test_request_id_reaches_sync_routes_and_is_cleared():
    app = FastAPI()

    @app.get("/rid")
    def rid() -> dict:  # runs in the threadpool: the context must follow it there
        return {"rid": logs.request_id.get()}

    app.add_middleware(logs.RequestIdMiddleware)
    with TestClient(app) as test_client:
        assert test_client.get("/rid", headers={"X-Request-Id": "req-1"}).json() == {"rid": "req-1"}
    assert logs.request_id.get() is None


def test_json_log_lines_carry_the_request_id(monkeypatch):
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    try:
        logs.configure("INFO", json_lines=True)
        token = logs.request_id.set("req-42")
        try:
            logging.getLogger("dropguard.test").info("hello", extra={"order_id": 7})
        finally:
            logs.request_id.reset(token)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["request_id"] == "req-42"
    assert line["level"] == "INFO"
    assert line["order_id"] == 7


@pytest.mark.e2e
def test_worker_serves_task_latency(monkeypatch):
    """A worker of its own (own database, queues and port): the shared worker may be busy with
    other tests' slow tasks, and its relay must not take this test's outbox row or theirs."""
    port = free_port()
    with temporary_database(migrated=True) as url:
        monkeypatch.setenv("DROPGUARD_DATABASE_URL", url)
        monkeypatch.setenv("DROPGUARD_REDIS_PREFIX", f"dgmetrics-{uuid.uuid4().hex[:8]}:")
        monkeypatch.setenv("DROPGUARD_WORKER_METRICS_PORT", str(port))
        worker = start_worker("worker-metrics", concurrency=1)
        engine = create_engine(url)
        try:
            with Session(engine) as session:
                enqueue(session, "outbox.sweep")
                session.commit()

            def swept() -> float:
                try:
                    text_ = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                except httpx.HTTPError:
                    return 0.0
                return _sample(text_, 'dropguard_task_seconds_count{outcome="success",task="outbox.sweep"}')

            assert wait_for(swept, timeout=60, message="outbox.sweep in the worker's metrics") >= 1
        finally:
            worker.stop()
            engine.dispose()
