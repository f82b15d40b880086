"""Per-webhook cost of the recording statement alone, against the baseline's insert, sequentially.

Separates database work from HTTP and Python overhead: `python -m bench.record_micro` with
DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL pointing at a server (it creates and drops its own
database). Prints milliseconds per call for both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TABLE = (
    "CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, event_id text NOT NULL,"
    " payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1500)
    args = parser.parse_args()
    server = make_url(os.environ["DROPGUARD_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    database = f"dropguard_micro_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    os.environ.update(
        {
            "DROPGUARD_DATABASE_URL": server.set(database=database).render_as_string(hide_password=False),
            "DROPGUARD_REDIS_PREFIX": f"bench-micro-{database}:",
            "DROPGUARD_SHOPIFY_API_KEY": os.environ.get("DROPGUARD_SHOPIFY_API_KEY", "bench-key"),
            "DROPGUARD_SHOPIFY_API_SECRET": os.environ.get("DROPGUARD_SHOPIFY_API_SECRET", "bench-secret"),
            "DROPGUARD_SECRET_KEY": os.environ.get("DROPGUARD_SECRET_KEY", "bench-secret-key-0123456789"),
            "DROPGUARD_PUBLIC_URL": os.environ.get("DROPGUARD_PUBLIC_URL", "http://127.0.0.1:8000"),
        }
    )
    # Imported only now: settings are read from the environment prepared above.
    from app.aio import close_clients
    from app.db import get_engine, reset_engine, session_scope
    from app.migrate import upgrade_to_head
    from app.shops.service import add_shop
    from app.webhooks.routes import _record
    from app.webhooks.service import InboundDelivery
    from bench.ingest import order_body

    async def record_many(body: bytes) -> float:
        # The route's own path: event-loop connection, one statement, the relay nudge.
        started = time.perf_counter()
        for _ in range(args.calls):
            await _record(InboundDelivery(
                shop_domain="micro.myshopify.com", topic="orders/create", event_id=uuid.uuid4().hex,
                webhook_id=None, api_version="2026-07", triggered_at=None, body=body,
            ))
        elapsed = time.perf_counter() - started
        await close_clients()
        return elapsed

    try:
        upgrade_to_head()
        with session_scope() as session:
            add_shop(session, domain="micro.myshopify.com", access_token="shpat_bench")
        body = order_body()
        project = asyncio.run(record_many(body)) / args.calls * 1000
        engine = get_engine()
        with engine.begin() as connection:
            connection.execute(text(TABLE))
        insert = text("INSERT INTO bench_baseline (event_id, payload) VALUES (:e, CAST(:p AS jsonb)) RETURNING id")
        started = time.perf_counter()
        for _ in range(args.calls):
            with engine.begin() as connection:
                connection.execute(insert, {"e": uuid.uuid4().hex, "p": body.decode()}).scalar_one()
        baseline = (time.perf_counter() - started) / args.calls * 1000
        print(json.dumps({"calls": args.calls, "project_ms": round(project, 3), "baseline_ms": round(baseline, 3)}))
    finally:
        reset_engine()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
