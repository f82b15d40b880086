"""Group commit for webhook ingest: deliveries that arrive together are recorded together.

Every delivery is still recorded with its evidence event and outbox row in one transaction that
commits before its answer; deliveries that arrive while a transaction is in flight wait for the
next one and share it. A transaction costs a round trip, a commit (a WAL flush) and statement set
up whatever it holds, so under load this spreads those over many deliveries; when traffic is quiet
each delivery has its own transaction at once, with no added wait (there is no timer).

One batch whose statement fails is recorded again one delivery at a time, so that a delivery the
database refuses fails alone and its neighbours are still accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.metrics import INGEST_BATCH_SIZE
from app.webhooks.service import InboundDelivery, IngestResult, record_shopify_deliveries_async

log = logging.getLogger(__name__)


class IngestBatcher:
    def __init__(self, pool: AsyncConnectionPool, *, max_batch: int, max_in_flight: int) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._waiting: list[tuple[InboundDelivery, asyncio.Future[IngestResult]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def record(self, delivery: InboundDelivery) -> IngestResult:
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A request cancelled meanwhile (the client hung up) cancels only its wait: the batch still
        # records its delivery, and Shopify's retry then finds it stored.
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                # Whatever happens, no request is left waiting for an answer that never comes
                # (refusals by the database are settled per delivery inside _record_batch).
                try:
                    await self._record_batch(batch)
                except Exception as error:
                    log.exception("webhook.batch_crashed", extra={"size": len(batch)})
                    for _, future in batch:
                        _settle(future, error=error)
                except BaseException:  # cancelled: the process is stopping
                    for _, future in batch:
                        future.cancel()
                    raise
        finally:
            self._in_flight -= 1

    async def _record_batch(self, batch: list[tuple[InboundDelivery, asyncio.Future[IngestResult]]]) -> None:
        deliveries = [delivery for delivery, _ in batch]
        try:
            results = await self._record_retrying(deliveries)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error=error)
                return
            log.warning("webhook.batch_failed", extra={"size": len(batch)}, exc_info=True)
            for item in batch:
                await self._record_batch([item])
            return
        INGEST_BATCH_SIZE.observe(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _record_retrying(self, deliveries: Sequence[InboundDelivery]) -> list[IngestResult]:
        try:
            return await self._record_once(deliveries)
        except PoolTimeout:
            raise  # overloaded, not broken: checking every connection would only add to it
        except psycopg.OperationalError:
            # A pooled connection the server closed (restart, idle timeout): the pool replaces it,
            # and the statement is safe to run again. If the lost attempt had committed, this one
            # finds the event ids taken and answers "duplicate": stored once either way.
            # A restart drops every pooled connection at once: test the idle ones (only now, after
            # a failure) so that the retry gets a live one.
            log.warning("webhook.record_retried", extra={"size": len(deliveries)}, exc_info=True)
            await self._pool.check()
            return await self._record_once(deliveries)

    async def _record_once(self, deliveries: Sequence[InboundDelivery]) -> list[IngestResult]:
        async with self._pool.connection() as connection:
            return await record_shopify_deliveries_async(connection, deliveries)

    async def drain(self) -> None:
        """Wait for the batches in flight (shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _settle(
    future: asyncio.Future[IngestResult], *, result: IngestResult | None = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
