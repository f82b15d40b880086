"""PostgreSQL session-level advisory locks: one holder at a time for one outside effect.

The lock lives on a dedicated autocommit connection (no transaction stays open while an HTTP
call is in flight) and dies with that connection, so a killed process never leaves it behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.db import get_engine

log = logging.getLogger(__name__)

# First key of the two-key form, one per kind of effect; shows up as classid in pg_locks.
SUPPLIER_ORDER = 71001
STORE_FULFILMENT = 71002

_TRY = text("SELECT pg_try_advisory_lock(:namespace, CAST(:object_id % 2147483648 AS integer))")
_UNLOCK = text("SELECT pg_advisory_unlock(:namespace, CAST(:object_id % 2147483648 AS integer))")


@contextmanager
def advisory_lock(namespace: int, object_id: int) -> Iterator[bool]:
    """Yields whether the lock was taken; never waits. Two ids sharing a key only serialise more."""
    connection = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    params = {"namespace": namespace, "object_id": object_id}
    acquired = False
    try:
        acquired = bool(connection.scalar(_TRY, params))
        yield acquired
    finally:
        try:
            if acquired:
                connection.scalar(_UNLOCK, params)
        except Exception:
            # A connection that may still hold the lock must never go back to the pool; closing
            # it for good releases the lock on the server.
            log.warning("advisory_lock.unlock_failed", extra=params, exc_info=True)
            connection.invalidate()
        finally:
            connection.close()
