"""Group commit on the ingest path (app/webhooks/batching.py, app/aio.py): deliveries that arrive
together share one transaction, each is still recorded exactly once with its evidence event and
outbox row, one bad delivery fails alone, and a connection the server dropped is retried."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text

from app.aio import libpq_url
from app.config import get_settings
from app.db import get_engine
from app.evidence.service import verify_chain
from app.metrics import INGEST_BATCH_SIZE
from app.webhooks.batching import IngestBatcher
from app.webhooks.service import InboundDelivery
from tests.factories import order_payload
from tests.webhooks.helpers import deliveries, evidence, outbox_for_deliveries, signed

pytestmark = pytest.mark.usefixtures("no_work_left_for_later_workers")


def _delivery(domain: str, *, event_id: str | None = None, body: bytes | None = None) -> InboundDelivery:
    payload_body, headers = signed(order_payload(financial_status="pending"), domain, "orders/create")
    return InboundDelivery(
        shop_domain=domain,
        topic="orders/create",
        event_id=event_id or headers["X-Shopify-Event-Id"],
        webhook_id=headers["X-Shopify-Webhook-Id"],
        api_version=headers["X-Shopify-API-Version"],
        triggered_at=datetime.now(UTC),
        body=body if body is not None else payload_body,
    )


def _batch_sizes() -> tuple[float, float]:
    """(batches, deliveries) observed by this process's histogram so far."""
    samples = {s.name: s.value for s in INGEST_BATCH_SIZE.collect()[0].samples if not s.labels.get("le")}
    return samples["dropguard_ingest_batch_size_count"], samples["dropguard_ingest_batch_size_sum"]


def _run(deliveries_to_record: list[InboundDelivery], *, max_in_flight: int = 1, max_batch: int = 32):
    """Record the deliveries concurrently on a fresh event loop and pool; results or exceptions."""

    async def main():
        pool = AsyncConnectionPool(
            libpq_url(get_settings().database_url), min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
        )
        await pool.open()
        try:
            batcher = IngestBatcher(pool, max_batch=max_batch, max_in_flight=max_in_flight)
            return await asyncio.gather(*(batcher.record(d) for d in deliveries_to_record), return_exceptions=True)
        finally:
            await pool.close()

    return asyncio.run(main())


def test_deliveries_arriving_together_share_transactions_and_each_is_recorded_once(db, shop):
    batches_before, recorded_before = _batch_sizes()
    arriving = [_delivery(shop.domain) for _ in range(50)]

    results = _run(arriving, max_in_flight=1, max_batch=32)

    assert [r.status for r in results] == ["queued"] * 50
    batches, recorded = _batch_sizes()
    # 50 deliveries waiting at once, one transaction at a time, at most 32 each: two transactions.
    assert (batches - batches_before, recorded - recorded_before) == (2, 50)
    stored = deliveries(db, shop.domain)
    assert sorted(d.event_id for d in stored) == sorted(d.event_id for d in arriving)
    assert sorted(r.delivery_id for r in results) == sorted(d.id for d in stored)
    assert sorted(e.webhook_delivery_id for e in evidence(db, shop.domain, "webhook.received")) == sorted(
        d.id for d in stored
    )
    assert len(outbox_for_deliveries(db, [d.id for d in stored])) == 50
    assert verify_chain(db, shop.domain).intact


def test_a_duplicate_inside_one_batch_is_recorded_once(db, shop):
    event_id = str(uuid.uuid4())
    results = _run([_delivery(shop.domain, event_id=event_id) for _ in range(3)])
    assert sorted(r.status for r in results) == ["duplicate", "duplicate", "queued"]
    [stored] = deliveries(db, shop.domain)
    assert [e.webhook_delivery_id for e in evidence(db, shop.domain, "webhook.received")] == [stored.id]


def test_batches_for_several_shops_keep_every_chain_intact(db, make_shop):
    shops = [make_shop() for _ in range(3)]
    db.commit()
    arriving = [_delivery(shops[n % 3].domain) for n in range(45)]
    results = _run(arriving, max_in_flight=3, max_batch=8)
    assert all(r.status == "queued" for r in results)
    for shop in shops:
        assert len(deliveries(db, shop.domain)) == 15
        assert len(evidence(db, shop.domain, "webhook.received")) == 15
        report = verify_chain(db, shop.domain)
        assert report.intact, report


def test_a_delivery_the_database_refuses_fails_alone(db, shop):
    # Valid JSON that jsonb refuses (the route turns these away first; the batcher must not let
    # one such delivery take its neighbours down with it).
    poison = _delivery(shop.domain, body=b'{"note": "\\u0000"}')
    good = [_delivery(shop.domain) for _ in range(4)]

    results = _run([good[0], good[1], poison, good[2], good[3]])

    assert isinstance(results[2], Exception)
    assert [r.status for i, r in enumerate(results) if i != 2] == ["queued"] * 4
    assert sorted(d.event_id for d in deliveries(db, shop.domain)) == sorted(d.event_id for d in good)
    assert verify_chain(db, shop.domain).intact


def test_a_connection_the_server_dropped_is_retried(client, db, shop):
    first_body, first_headers = signed(order_payload(), shop.domain, "orders/create")
    assert client.post("/webhooks/shopify", content=first_body, headers=first_headers).json()["status"] == "queued"
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        dropped = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'dropguard-ingest' AND datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert dropped >= 1

    body, headers = signed(order_payload(), shop.domain, "orders/create")
    response = client.post("/webhooks/shopify", content=body, headers=headers)

    assert (response.status_code, response.json()["status"]) == (200, "queued")
    assert headers["X-Shopify-Event-Id"] in {d.event_id for d in deliveries(db, shop.domain)}


def test_the_web_app_closes_its_ingest_connections_on_shutdown(app, db, shop):
    from fastapi.testclient import TestClient

    from app import aio

    with TestClient(app) as client:
        body, headers = signed(order_payload(), shop.domain, "orders/create")
        assert client.post("/webhooks/shopify", content=body, headers=headers).status_code == 200
        pool = client.portal.call(aio.clients).database  # the app's event loop's own clients
        assert not pool.closed and pool.get_stats()["pool_size"] >= 1
    assert pool.closed


@pytest.mark.e2e
def test_concurrent_webhooks_to_the_server_are_each_recorded_once(live_server, db, make_shop):
    shops = [make_shop() for _ in range(2)]
    db.commit()
    count = 40
    requests = [signed(order_payload(), shops[n % 2].domain, "orders/create") for n in range(count)]
    barrier = threading.Barrier(count)

    def deliver(request: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = request
        with httpx.Client(base_url=live_server, timeout=30) as http:
            http.get("/healthz")
            barrier.wait(timeout=30)
            return http.post("/webhooks/shopify", content=body, headers=headers)

    with ThreadPoolExecutor(count) as pool:
        responses = list(pool.map(deliver, requests))

    assert [r.json()["status"] for r in responses] == ["queued"] * count
    for shop in shops:
        assert len(deliveries(db, shop.domain)) == count // 2
        assert verify_chain(db, shop.domain).intact
    metrics = httpx.get(f"{live_server}/metrics").text
    family = next(f for f in text_string_to_metric_families(metrics) if f.name == "dropguard_ingest_batch_size")
    values = {s.name: s.value for s in family.samples if "le" not in s.labels}
    # Exported, and every delivery counted (whether they shared transactions here depends on
    # timing; the in-process test above pins that down).
    assert values["dropguard_ingest_batch_size_sum"] >= count


def test_ingest_connections_are_autocommit_and_plan_the_statement_once():
    from app import aio

    async def settings_of_a_pooled_connection() -> tuple[bool, str]:
        loop_clients = await aio.clients()
        try:
            async with loop_clients.database.connection() as connection:
                cursor = await connection.execute("SHOW plan_cache_mode")
                return connection.autocommit, (await cursor.fetchone())[0]
        finally:
            await aio.close_clients()

    assert asyncio.run(settings_of_a_pooled_connection()) == (True, "force_generic_plan")
