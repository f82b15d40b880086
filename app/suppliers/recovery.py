"""Releasing held supplier orders in order once their supplier answers again.

One releaser per supplier at a time (an advisory lock); it sends the queue head, and only when
that placement is over moves to the next, so a recovered supplier receives the held orders in
the order they were paid. The first release after the cool-down is the circuit's half-open
probe: if it fails, the circuit opens again and the queue waits, untouched.
"""

from __future__ import annotations

import logging
import time

import httpx
from sqlalchemy import select

from app import exactly_once
from app.db import session_scope
from app.suppliers import resilience, service
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.health_models import SupplierQueueEntry
from app.suppliers.models import SupplierOrder

log = logging.getLogger(__name__)

# One release run stops after this long, well inside a task's time limit; the next beat goes on.
RUN_SECONDS = 45.0


def _next(supplier_id: int) -> int | None:
    """The queue head, dropping heads that no longer need sending (cancelled, placed elsewhere)."""
    with session_scope() as session:
        while True:
            head = resilience.queue_head(session, supplier_id)
            if head is None:
                return None
            so = session.get(SupplierOrder, head)
            if so is not None and so.status == "pending":
                return head
            resilience.unqueue(session, head)


def release_supplier(supplier_id: int, *, transport: httpx.BaseTransport | None = None,
                     deadline: float | None = None) -> int:
    """Send held orders of one supplier, oldest first, until the queue is empty or the supplier
    fails again. Returns how many left the queue."""
    released = 0
    deadline = deadline or time.monotonic() + RUN_SECONDS
    with exactly_once.advisory_lock(exactly_once.SUPPLIER_QUEUE, supplier_id) as acquired:
        if not acquired:
            return 0
        while time.monotonic() < deadline:
            head = _next(supplier_id)
            if head is None:
                break
            try:
                outcome = service.place(head, transport=transport)
            except (SupplierTemporaryError, service.SupplierOrderBusy) as error:
                # Still down (the circuit counted it), rate limited, or being placed by a task.
                log.info("supplier_queue.paused", extra={"supplier_id": supplier_id, "reason": str(error)})
                break
            if outcome == "queued":
                break  # the circuit is open (or the probe slot is taken): wait for the next run
            with session_scope() as session:
                resilience.unqueue(session, head)
            released += 1
    return released


def release_all(*, transport: httpx.BaseTransport | None = None) -> dict[int, int]:
    with session_scope() as session:
        supplier_ids = list(session.scalars(select(SupplierQueueEntry.supplier_id).distinct()))
    deadline = time.monotonic() + RUN_SECONDS
    return {sid: release_supplier(sid, transport=transport, deadline=deadline) for sid in supplier_ids}
