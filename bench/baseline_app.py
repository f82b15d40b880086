"""The floor the webhook endpoint is measured against: FastAPI, one INSERT, one Redis LPUSH.

No signature check, no validation, no ledger, no outbox: what any endpoint that stores a request
and queues it costs on the same PostgreSQL, Redis and uvicorn setup. Run by bench/ingest.py as
`uvicorn bench.baseline_app:create_app --factory`, configured by BENCH_DATABASE_URL and
BENCH_REDIS_URL.
"""

from __future__ import annotations

import os

import redis
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import create_engine, text

TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
_INSERT = text("INSERT INTO bench_baseline (event_id, payload) VALUES (:event_id, CAST(:payload AS jsonb)) RETURNING id")


def create_app() -> FastAPI:
    # The same pool shape as app/db.py, so the two servers differ only in what a request does.
    engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=20, max_overflow=0, pool_pre_ping=True)
    with engine.begin() as connection:
        connection.execute(text(TABLE))
    queue = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    queue_key = os.environ.get("BENCH_QUEUE_KEY", "bench:baseline")

    def store(event_id: str, body: bytes) -> int:
        with engine.begin() as connection:
            return connection.execute(_INSERT, {"event_id": event_id, "payload": body.decode()}).scalar_one()

    app = FastAPI()

    @app.post("/webhooks/shopify")
    async def ingest(request: Request) -> JSONResponse:
        body = await request.body()
        row_id = await run_in_threadpool(store, request.headers.get("x-shopify-event-id", ""), body)
        await run_in_threadpool(queue.lpush, queue_key, row_id)
        return JSONResponse({"status": "queued", "delivery_id": row_id})

    return app
