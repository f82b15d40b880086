"""The crash window: a process commits delivery, evidence and outbox row, then dies before publishing.

This runs against a database and a Redis prefix of its own, so that no relay of the shared live
server or worker can publish the row first: the sweeper must be the one that finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from app.outbox.service import relay_batch
from app.redis import get_redis
from app.shops.service import add_shop
from app.webhooks.service import record_shopify_delivery
from tests.factories import order_payload
from tests.fixtures import ROOT, Process, wait_for
from tests.webhooks.helpers import signed, temporary_database

pytestmark = pytest.mark.e2e


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
            shop_domain=domain,
            topic="orders/create",
            event_id=headers["X-Shopify-Event-Id"],
            webhook_id=headers["X-Shopify-Webhook-Id"],
            api_version="2026-07",
            triggered_at=datetime.now(UTC),
            body=body,
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
        assert connection.execute(text("SELECT dispatch_count FROM outbox")).scalar_one() == 1
