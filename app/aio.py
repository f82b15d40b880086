"""PostgreSQL and Redis clients for the one route that runs on the event loop: webhook ingest.

Ingest is one statement and a nudge to the outbox relay. Handing each request to a worker thread
and back cost more than that work (GIL hand-offs between the event loop and up to 40 threads), and
SQLAlchemy's asyncio layer doubled the cost of a round trip (greenlet switches), so this path uses
psycopg's own async connections and pool, and records deliveries that arrive together in one
transaction (app/webhooks/batching.py; figures in the README's benchmark section). Everything else
stays on the synchronous SQLAlchemy engine in app/db.py.

Asyncio connections belong to the event loop that opened them, and a process may run several loops
one after another (each test client has its own), so the clients are kept per loop and closed by
the web app's shutdown.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from app.config import get_settings
from app.outbox.service import RelayWaker
from app.webhooks.batching import IngestBatcher


@dataclass(frozen=True)
class LoopClients:
    database: AsyncConnectionPool
    redis: aioredis.Redis
    relay_waker: RelayWaker
    ingest: IngestBatcher


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopClients] = weakref.WeakKeyDictionary()


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+psycopg://…) as libpq takes it, query options kept."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _configure_ingest_connection(connection: AsyncConnection) -> None:
    # psycopg prepares the ingest statement after a few runs, but PostgreSQL still re-plans a
    # prepared statement for every execution while it judges custom plans worthwhile: 0.35 ms of
    # a 1.7 ms statement, for a plan that never changes (inserts and a unique-key join).
    await connection.execute("SET plan_cache_mode = force_generic_plan")


async def clients() -> LoopClients:
    """The running loop's clients, opened on first use."""
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        settings = get_settings()
        redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, health_check_interval=30)
        # Fixed size, as in app/db.py: no connection churn under load. Autocommit: each ingest
        # statement is its own transaction. No check on checkout (a round trip per request): after
        # a connection fails, the batcher has the pool test its idle ones and retries once.
        database = AsyncConnectionPool(
            libpq_url(settings.database_url),
            min_size=settings.ingest_pool_size,
            max_size=settings.ingest_pool_size,
            kwargs={"autocommit": True, "application_name": "dropguard-ingest"},
            configure=_configure_ingest_connection,
            # Shopify gives a webhook 5 s: waiting longer for a connection only turns its retry
            # into a timeout on both sides.
            timeout=5.0,
            open=False,
            name="ingest",
        )
        found = LoopClients(
            database=database,
            redis=redis,
            relay_waker=RelayWaker(redis),
            ingest=IngestBatcher(
                database, max_batch=settings.ingest_batch_max, max_in_flight=settings.ingest_pool_size
            ),
        )
        _by_loop[loop] = found
        # Opened once, here: open() (without wait) takes an uncontended lock and starts the
        # background connecting without yielding, so no other request sees the pool unopened.
        await database.open()
    return found


async def close_clients() -> None:
    """Close the running loop's clients (web app shutdown)."""
    found = _by_loop.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.ingest.drain()
        await found.relay_waker.drain()
        await found.redis.aclose()
        await found.database.close()
