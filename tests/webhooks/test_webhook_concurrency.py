"""Twenty simultaneous deliveries of one event against the real server: recorded exactly once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.factories import order_payload
from tests.webhooks.helpers import deliveries, evidence, outbox_for_deliveries, signed

CONCURRENCY = 20


def test_twenty_concurrent_deliveries_of_one_event_are_recorded_once(live_server, db, shop):
    payload = order_payload(financial_status="pending")
    event_id = str(uuid.uuid4())
    # Each retry is signed separately (fresh webhook id and timestamp), as Shopify's are.
    requests = [signed(payload, shop.domain, "orders/create", event_id=event_id) for _ in range(CONCURRENCY)]
    barrier = threading.Barrier(CONCURRENCY)

    def deliver(request: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = request
        with httpx.Client(base_url=live_server, timeout=30) as http:
            http.get("/healthz")  # connect before the barrier, so the posts really overlap
            barrier.wait(timeout=30)
            return http.post("/webhooks/shopify", content=body, headers=headers)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        responses = list(pool.map(deliver, requests))

    assert [r.status_code for r in responses] == [200] * CONCURRENCY, [r.text for r in responses]
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["duplicate"] * (CONCURRENCY - 1) + ["queued"]
    [delivery] = deliveries(db, shop.domain)
    assert delivery.event_id == event_id
    assert [e.webhook_delivery_id for e in evidence(db, shop.domain, "webhook.received")] == [delivery.id]
    assert len(outbox_for_deliveries(db, [delivery.id])) == 1
