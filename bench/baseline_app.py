"""The floor the webhook endpoint is measured against: FastAPI, one INSERT, one Redis LPUSH.

No signature check, no validation, no ledger, no outbox: what any endpoint that stores a request
and queues it costs on the same PostgreSQL, Redis and uvicorn setup. It does its I/O the way the
project's ingest route does (app/aio.py: psycopg's async pool of the same size on the event loop,
autocommit, redis.asyncio), so the two servers differ only in what a request does. Run by
bench/ingest.py as `uvicorn bench.baseline_app:create_app --factory`, configured by
BENCH_DATABASE_URL and BENCH_REDIS_URL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

from app.aio import libpq_url
from app.config import Settings

TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
_INSERT = "INSERT INTO bench_baseline (event_id, payload) VALUES (%s, CAST(%s AS jsonb)) RETURNING id"
POOL_SIZE = Settings.model_fields["ingest_pool_size"].default  # the project's ingest pool


def create_app() -> FastAPI:
    pool = AsyncConnectionPool(
        libpq_url(os.environ["BENCH_DATABASE_URL"]), min_size=POOL_SIZE, max_size=POOL_SIZE,
        kwargs={"autocommit": True}, open=False,
    )
    queue = aioredis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    queue_key = os.environ.get("BENCH_QUEUE_KEY", "bench:baseline")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        async with pool.connection() as connection:
            await connection.execute(TABLE)
        yield
        await queue.aclose()
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/webhooks/shopify")
    async def ingest(request: Request) -> JSONResponse:
        body = await request.body()
        async with pool.connection() as connection:
            cursor = await connection.execute(_INSERT, (request.headers.get("x-shopify-event-id", ""), body.decode()))
            row_id = (await cursor.fetchone())[0]
        await queue.lpush(queue_key, row_id)
        return JSONResponse({"status": "queued", "delivery_id": row_id})

    return app
