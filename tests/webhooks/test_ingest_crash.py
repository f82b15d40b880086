"""The web process is SIGKILLed in the middle of a burst of webhooks, some of them sharing
transactions (group commit); Shopify then delivers every event again. Each event ends up recorded
exactly once, with one ledger event and one outbox row, and the chain verifies."""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.embedded import free_port
from app.evidence.service import verify_chain
from tests.factories import order_payload
from tests.fixtures import Process, _wait_http
from tests.webhooks.helpers import deliveries, evidence, outbox_for_deliveries, signed

BURST = 80

pytestmark = pytest.mark.usefixtures("no_work_left_for_later_workers")


def _deliver(url: str, request: tuple[bytes, dict[str, str]]) -> str | None:
    """The answer's status, or None when the connection died with the server."""
    body, headers = request
    try:
        response = httpx.post(f"{url}/webhooks/shopify", content=body, headers=headers, timeout=10)
    except httpx.HTTPError:
        return None
    return response.json()["status"] if response.status_code == 200 else f"http {response.status_code}"


def test_killed_mid_burst_then_redelivered_records_every_event_once(db, make_shop, monkeypatch):
    shop = make_shop()
    db.commit()
    # No sandbox in these servers: they must not compete with the session's live server for its
    # mail catcher and simulator.
    monkeypatch.setenv("DROPGUARD_SANDBOX", "false")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    requests = [signed(order_payload(), shop.domain, "orders/create") for _ in range(BURST)]

    server = Process("ingest-crash-first", argv)
    try:
        _wait_http(f"{url}/healthz")
        with ThreadPoolExecutor(32) as pool:
            answers = [pool.submit(_deliver, url, request) for request in requests]
            deadline = time.monotonic() + 30
            while sum(a.done() for a in answers) < 10 and time.monotonic() < deadline:
                time.sleep(0.001)
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            first = [a.result() for a in answers]
    finally:
        server.stop()
    assert set(first) <= {"queued", None}, first
    assert None in first, "the kill came after the burst: nothing was in flight"

    server = Process("ingest-crash-second", argv)
    try:
        _wait_http(f"{url}/healthz")
        second = [_deliver(url, request) for request in requests]
    finally:
        server.stop()

    # Answered before the kill: recorded then, a duplicate now. Lost with the server: either
    # committed before it died (duplicate now) or not at all (queued now). Never anything else.
    for before, after in zip(first, second, strict=True):
        assert after == "duplicate" if before == "queued" else after in {"queued", "duplicate"}
    stored = deliveries(db, shop.domain)
    assert sorted(d.event_id for d in stored) == sorted(h["X-Shopify-Event-Id"] for _, h in requests)
    received = evidence(db, shop.domain, "webhook.received")
    assert sorted(e.webhook_delivery_id for e in received) == sorted(d.id for d in stored)
    assert len(outbox_for_deliveries(db, [d.id for d in stored])) == BURST
    report = verify_chain(db, shop.domain)
    assert report.intact, report
