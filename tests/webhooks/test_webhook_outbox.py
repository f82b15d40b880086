"""The outbox: work is part of the producer's transaction, each row is published once, and the
crash window (committed, never published) is closed by the sweeper.

These run against a database (and, for the worker, a Redis prefix) of their own, so that no relay
of the shared live server or worker can publish a row first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from app.outbox.service import enqueue, relay_batch
from app.redis import get_redis
from app.shops.service import add_shop
from app.webhooks.service import InboundDelivery, record_shopify_delivery
from tests.factories import order_payload
from tests.fixtures import ROOT, Process, wait_for
from tests.webhooks.helpers import signed, temporary_database


@dataclass
class Isolated:
    engine: Engine
    env: dict[str, str]


@pytest.fixture
def isolated() -> Iterator[Isolated]:
    """A freshly migrated database and a Redis prefix that nothing else in the run uses."""
    prefix = f"dgcrash-{uuid.uuid4().hex[:10]}:"
    with temporary_database(migrated=True) as url:
        engine = create_engine(url)
        env = dict(os.environ, DROPGUARD_DATABASE_URL=url, DROPGUARD_REDIS_PREFIX=prefix, DROPGUARD_WORKER_METRICS_PORT="0")
        try:
            yield Isolated(engine=engine, env=env)
        finally:
            engine.dispose()
            redis = get_redis()
            for key in redis.scan_iter(match=f"{prefix}*", count=1000):
                redis.delete(key)


NO_SUCH_DELIVERY = 10**15  # published work for it is a harmless no-op ("skipped")


def test_enqueued_work_is_part_of_the_callers_transaction(isolated):
    with Session(isolated.engine) as session:
        enqueue(session, "webhooks.process_delivery", NO_SUCH_DELIVERY)
        session.rollback()
        assert session.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
        enqueue(session, "webhooks.process_delivery", NO_SUCH_DELIVERY)
        session.commit()
        row = session.execute(text("SELECT * FROM outbox")).one()
    assert (row.task_name, row.args, row.queue) == ("webhooks.process_delivery", [NO_SUCH_DELIVERY], "ingest")
    assert (row.dispatched_at, row.dispatch_count) == (None, 0)


def test_work_for_an_unrouted_task_is_refused(isolated):
    with Session(isolated.engine) as session, pytest.raises(ValueError, match="no queue"):
        enqueue(session, "reports.build", 1)


def test_concurrent_relays_publish_each_row_once(isolated):
    rows, relays = 60, 4
    with Session(isolated.engine) as session:
        for _ in range(rows):
            enqueue(session, "webhooks.process_delivery", NO_SUCH_DELIVERY)
        session.commit()
    barrier = threading.Barrier(relays)
    published: list[int] = []

    def relay() -> None:
        with Session(isolated.engine) as session:
            barrier.wait(timeout=30)
            while count := relay_batch(session, batch=7):
                published.append(count)

    threads = [threading.Thread(target=relay) for _ in range(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(published) == rows
    with isolated.engine.connect() as connection:
        counts = connection.execute(text("SELECT dispatch_count FROM outbox WHERE dispatched_at IS NOT NULL")).scalars()
        assert sorted(counts) == [1] * rows


@pytest.mark.e2e
def test_committed_but_unpublished_work_is_swept_and_processed(isolated, monkeypatch):
    domain = f"crash-{uuid.uuid4().hex[:10]}.myshopify.com"
    payload = order_payload(financial_status="pending")
    body, headers = signed(payload, domain, "orders/create")

    # The request's unit of work, exactly as the route does it, and then the process "dies":
    # the commit happened, nothing woke a relay, and no relay is running against this database.
    with Session(isolated.engine) as session:
        add_shop(session, domain=domain, access_token="shpat_crash")
        session.commit()
        result = record_shopify_delivery(
            session,
            InboundDelivery(
                shop_domain=domain,
                topic="orders/create",
                event_id=headers["X-Shopify-Event-Id"],
                webhook_id=headers["X-Shopify-Webhook-Id"],
                api_version="2026-07",
                triggered_at=datetime.now(UTC),
                body=body,
            ),
        )
        session.commit()
        assert result.status == "queued"
        # The sweeper leaves young rows to the live relays; this one is not old enough yet.
        assert relay_batch(session, older_than=3600) == 0
        # ... and then time passes: the crash was a while ago.
        session.execute(text("UPDATE outbox SET created_at = created_at - interval '1 minute'"))
        session.commit()
        [row] = session.execute(text("SELECT * FROM outbox")).all()
        assert (row.task_name, row.args, row.dispatched_at) == ("webhooks.process_delivery", [result.delivery_id], None)

    # The periodic sweep, as beat runs it (its own process, this database and prefix).
    swept = subprocess.run(
        [sys.executable, "-c", "from app.outbox.tasks import sweep; print(sweep())"],
        cwd=ROOT, env=isolated.env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.strip().splitlines()[-1] == "1"
    with isolated.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM outbox")).one()
    assert row.dispatched_at is not None
    assert row.dispatch_count == 1

    # A real worker on this database takes the published task and applies the delivery.
    with monkeypatch.context() as patch:
        for name, value in isolated.env.items():
            patch.setenv(name, value)
        worker = Process(
            "crash-worker",
            [sys.executable, "-m", "app.cli", "worker", "--concurrency", "1", "--queues", "ingest"],
        )
    try:

        def processed():
            with isolated.engine.connect() as connection:
                return connection.execute(
                    text("SELECT status FROM webhook_deliveries WHERE id = :id"), {"id": result.delivery_id}
                ).scalar_one() == "processed"

        wait_for(processed, timeout=60, message="the swept delivery to be processed by the worker")
    finally:
        worker.stop()
    with isolated.engine.connect() as connection:
        order = connection.execute(
            text("SELECT o.* FROM orders o JOIN shops s ON s.id = o.shop_id WHERE s.domain = :d"), {"d": domain}
        ).one()
        assert order.external_id == payload["id"]
        # Published once: by the sweeper, not again by the worker's own relay.
        # (Other rows may exist by now: a starting worker enqueues its own start-up work.)
        assert connection.execute(
            text("SELECT dispatch_count FROM outbox WHERE task_name = 'webhooks.process_delivery'")
        ).scalar_one() == 1


def test_relay_nudges_from_the_event_loop_are_coalesced_but_never_lost():
    import asyncio

    import redis.asyncio as aioredis

    from app.config import get_settings
    from app.outbox.service import RelayWaker, wake_key

    async def scenario() -> tuple[int, int]:
        client = aioredis.Redis.from_url(get_settings().redis_url)
        await client.delete(wake_key())
        try:
            waker = RelayWaker(client)
            # A burst of commits before the first nudge goes out: one LPUSH covers them all.
            for _ in range(100):
                waker.nudge()
            await waker.drain()
            after_burst = await client.llen(wake_key())
            # Commits while a nudge is in flight: exactly one more LPUSH, sent after them.
            waker.nudge()
            await asyncio.sleep(0)  # the first LPUSH is now waiting on Redis
            waker.nudge()
            waker.nudge()
            await waker.drain()
            return after_burst, await client.llen(wake_key())
        finally:
            await client.delete(wake_key())
            await client.aclose()

    assert asyncio.run(scenario()) == (1, 3)
