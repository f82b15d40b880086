"""The exactly-once discipline every outside effect follows (supplier orders, store fulfilments
and events, customer messages, refunds, dispute submissions):

1. take the effect's advisory lock (below; never waits: a second runner simply stands down);
2. record the attempt and commit it, with an idempotency key derived from our ids;
3. make the call, holding no row lock and no open transaction;
4. record the outcome. A retry first asks the other side whether the effect already happened
   (supplier lookup by our reference, GraphQL `@idempotent(key:)`, the message's Message-ID).

The lock lives on a dedicated autocommit connection (no transaction stays open while an HTTP
call is in flight) and dies with that connection, so a killed process never leaves it behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import get_engine, session_scope
from app.orders.models import Order
from app.orders.service import lock_store_order

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")

log = logging.getLogger(__name__)

# First key of the two-key form, one per kind of effect; shows up as classid in pg_locks. One
# list, so two kinds can never share a namespace: with a shared one, supplier 5's queue and
# fulfilment event 5 would take the same lock, and the second to try would stand down.
SUPPLIER_ORDER = 71001
STORE_FULFILMENT = 71002
SHOP_SUBSCRIPTIONS = 71003
STORE_REFUND = 71004
RISK_CARD = 71005
SHOP_TOKEN = 71006
STORE_FULFILMENT_EVENT = 71007
STORE_TRACKING_UPDATE = 71008
SUPPLIER_QUEUE = 71009
INVENTORY_PUBLISH = 71010
# Reporting a pre-dispute alert's outcome to its provider (app/alerts/outcomes.py).
ALERT_OUTCOME = 71011
# One e-mail to a merchant (ratio warnings, daily chain-head digests: app/alerts/merchant_mail.py).
MERCHANT_MAIL = 71012
# Submitting a dispute's evidence to the store (app/disputes/submission.py).
DISPUTE_EVIDENCE = 71013
# A customer's answer to a stock-out, carried out once (app/stockout).
STOCK_CHOICE = 71014

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


def lock_with_order(session: Session, model: type[T], object_id: int) -> tuple[Order | None, T | None]:
    """Lock a row that belongs to an order, taking the order's row lock first.

    Appending evidence for an order locks the shop's ledger head and then (foreign key check) the
    order row. A transaction that already holds the order (webhook processing does) and then
    appends would wait on us in a cycle if we took the ledger head first; locking the order
    before anything else is the one order every writer of both follows.
    """
    row = session.get(model, object_id)
    if row is None:
        return None, None
    order = session.get(Order, row.order_id, with_for_update={"key_share": True})
    return order, session.get(model, object_id, with_for_update=True, populate_existing=True)


def lock_after_store_order(session: Session, model: type[T], object_id: int) -> tuple[Order | None, T | None]:
    """Lock a row that belongs to an order, after the order's transaction lock (the one
    app.orders.service takes for every snapshot): for work that may create or match rows the
    order's webhooks also write (refunds, the claims that ask for them)."""
    row = session.get(model, object_id)
    if row is None:
        return None, None
    order = session.get(Order, row.order_id)
    lock_store_order(session, order.shop_id, order.external_id)
    return order, session.get(model, object_id, with_for_update=True, populate_existing=True)


def carry_out(
    namespace: int, object_id: int, *, begin: Callable[[Session], A | str], call: Callable[[A], R],
    finish: Callable[[Session, A, R], str], busy: Callable[[], Exception],
) -> tuple[str, R | None]:
    """Steps 1-4 for one effect: `begin` records the attempt (or answers a status: nothing to do),
    committed before `call` makes it with no transaction open; `finish` records the outcome.
    Raises busy() when another runner holds the effect's lock."""
    with advisory_lock(namespace, object_id) as acquired:
        if not acquired:
            raise busy()
        with session_scope() as session:
            attempt = begin(session)
        if isinstance(attempt, str):
            return attempt, None
        result = call(attempt)
        with session_scope() as session:
            return finish(session, attempt, result), result
