"""Writing outbox rows and relaying them to Celery after they are committed.

A task is never published before the rows it reads exist: producers only insert an outbox row in
their own transaction, then (after commit) nudge a relay through a Redis list. The relay publishes
rows in id order with SKIP LOCKED, so any number of relays can run; the beat sweeper publishes what
a crashed process left behind.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app.outbox.models import OutboxMessage
from app.queues import queue_for_task
from app.redis import get_redis, key

log = logging.getLogger(__name__)

_PENDING_KEY = "dropguard_outbox_pending"


def enqueue(session: Session, task_name: str, *args: Any) -> OutboxMessage:
    """Add work to the caller's transaction; it reaches a worker only if that transaction commits."""
    message = OutboxMessage(task_name=task_name, args=list(args), queue=queue_for_task(task_name))
    session.add(message)
    session.info[_PENDING_KEY] = True
    return message


def wake_key() -> str:
    return key("outbox", "wake")


def wake_relay() -> None:
    try:
        get_redis().lpush(wake_key(), 1)
    except Exception:  # the sweeper publishes it anyway; never fail a committed unit of work
        log.warning("outbox.wake_failed", exc_info=True)


class RelayWaker:
    """wake_relay for code on the event loop (app/aio.py), without a Redis round trip per request.

    Nudges are coalesced: one LPUSH in flight at a time, and one more after it if anything
    committed meanwhile, so every commit is still followed by a nudge sent after it. The caller
    does not wait for Redis; a lost nudge costs latency only (the relay also polls every second).
    """

    def __init__(self, client: AsyncRedis) -> None:
        self._client = client
        self._wanted = False
        self._task: asyncio.Task[None] | None = None

    def nudge(self) -> None:
        self._wanted = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._wanted:
            self._wanted = False
            try:
                await self._client.lpush(wake_key(), 1)
            except Exception:  # as wake_relay: never fail a committed unit of work
                log.warning("outbox.wake_failed", exc_info=True)

    async def drain(self) -> None:
        """Wait for the nudge in flight (shutdown)."""
        if self._task is not None:
            await self._task


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING_KEY, False):
        wake_relay()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


_CLAIM = text(
    """
    SELECT id, task_name, args, queue FROM outbox
    WHERE dispatched_at IS NULL AND created_at <= now() - make_interval(secs => :older_than)
    ORDER BY id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
    """
)
_MARK = text(
    "UPDATE outbox SET dispatched_at = now(), dispatch_count = dispatch_count + 1 WHERE id = ANY(:ids)"
)


def relay_batch(session: Session, *, older_than: float = 0, batch: int = 200) -> int:
    """Publish one batch of undispatched rows and mark them; returns how many were published.

    Rows are locked while they are published, so two relays never publish the same row at once.
    A crash after publishing and before the commit publishes a row twice; tasks are idempotent.
    """
    from app.worker import celery_app  # app.worker imports the relay, which imports this module

    rows = session.execute(_CLAIM, {"older_than": older_than, "batch": batch}).all()
    if not rows:
        session.rollback()
        return 0
    with celery_app.producer_or_acquire() as producer:
        for row in rows:
            celery_app.send_task(row.task_name, args=row.args, queue=row.queue, producer=producer)
    session.execute(_MARK, {"ids": [row.id for row in rows]})
    session.commit()
    return len(rows)
