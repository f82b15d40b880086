"""Suppliers without order webhooks (AliExpress): status and tracking by polling, with backoff.

The beat task enqueues the supplier orders whose poll is due (leasing them so that no two polls
of one order overlap); each poll asks the supplier, then applies what changed through the same
handlers as a webhook (app.suppliers.callbacks), so a poll and a late callback agree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import select

from app import exactly_once
from app.config import get_settings
from app.db import session_scope, utcnow
from app.external_calls import Call
from app.outbox.service import enqueue
from app.shops import guard
from app.shops.models import Shop
from app.suppliers import callbacks
from app.suppliers.adapters import get_adapter
from app.suppliers.events import POLL_TASK, record_event
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.protocols import OrderSnapshot, Parcel, SupplierError
from app.suppliers.protocols import SupplierOrderState as S

POLLED = ("placed", "confirmed")
LEASE = timedelta(minutes=10)


class PollBusy(Exception):
    """Another task is placing or polling this supplier order."""


def next_delay(polls: int) -> timedelta:
    """1 min, 2, 4, ... up to supplier_poll_max_seconds, with ±20 % jitter so polls spread out."""
    base = min(60 * 2 ** min(polls, 16), get_settings().supplier_poll_max_seconds)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def enqueue_due(*, limit: int = 200) -> int:
    """Enqueue a poll for each due supplier order; returns how many."""
    with session_scope() as session:
        due = session.scalars(
            select(SupplierOrder)
            .where(SupplierOrder.poll_after <= utcnow(), SupplierOrder.status.in_(POLLED))
            .order_by(SupplierOrder.poll_after)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for so in due:
            so.poll_after = utcnow() + LEASE  # the poll sets the real next time
            enqueue(session, POLL_TASK, so.id)
        return len(due)


@dataclass
class _Seen:
    calls: list[Call] = field(default_factory=list)
    orders: list[OrderSnapshot] = field(default_factory=list)
    parcels: list[Parcel] = field(default_factory=list)
    error: str | None = None


def _ask(supplier: Supplier, external_ids: list[str], transport: httpx.BaseTransport | None) -> _Seen:
    seen = _Seen()
    try:
        with get_adapter(supplier, transport=transport) as adapter:
            seen.calls = adapter.calls
            for external_id in external_ids:
                snapshot = adapter.get_order(external_id)
                if snapshot is None:
                    continue
                seen.orders.append(snapshot)
                if snapshot.state in (S.SHIPPED, S.DELIVERED):
                    seen.parcels.extend(adapter.get_tracking(external_id) or snapshot.parcels)
    except SupplierError as error:
        seen.error = error.message
    return seen


def _changes(seen: _Seen) -> list[tuple[str, dict]]:
    states = {snapshot.state for snapshot in seen.orders}
    if not states:
        return []
    if states == {S.CANCELLED}:
        return [("order.cancelled", {"id": seen.orders[0].external_id})]
    if seen.parcels:
        return [("order.shipped", {"id": seen.orders[0].external_id, "tracking_number": parcel.tracking_number,
                                   "carrier": parcel.carrier, "tracking_url": parcel.tracking_url})
                for parcel in seen.parcels]
    if states & {S.CONFIRMED, S.SHIPPED, S.DELIVERED}:
        return [("order.confirmed", {"id": seen.orders[0].external_id})]
    return []


def poll(supplier_order_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Ask the supplier about one order and apply what changed; returns the supplier order's status."""
    with exactly_once.advisory_lock(exactly_once.SUPPLIER_ORDER, supplier_order_id) as acquired:
        if not acquired:
            raise PollBusy(f"supplier order {supplier_order_id} is busy")
        with session_scope() as session:
            so = session.get(SupplierOrder, supplier_order_id)
            if so is None or so.status not in POLLED or not so.external_id:
                return so.status if so else "missing"
            if skipped := guard.skipped_uninstalled(session, session.get(Shop, so.shop_id), "supplier_poll", so.id,
                                                    order_id=so.order_id):
                so.poll_after = None  # no more polls are due for it
                return skipped
            supplier = session.get(Supplier, so.supplier_id)
            session.expunge(supplier)
            external_ids = so.external_id.split(",")
        seen = _ask(supplier, external_ids, transport)
        with session_scope() as session:
            _, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
            shop = session.get(Shop, so.shop_id)
            so.polls += 1
            record_event(session, shop, so, "supplier_order.polled", {
                "poll": so.polls, "supplier_states": [o.raw_status for o in seen.orders],
                "parcels": len(seen.parcels), "error": seen.error, "calls": [c.as_data() for c in seen.calls]})
            now = utcnow()
            for topic, data in _changes(seen):
                if so.status in ("shipped", "cancelled") and topic != "order.shipped":
                    break
                callbacks.apply_change(session, so.id, topic, data, now)
            if any(o.state == S.ISSUE for o in seen.orders):
                record_event(session, shop, so, "supplier_order.supplier_issue",
                             {"supplier_states": [o.raw_status for o in seen.orders]}, source="supplier")
            so.poll_after = now + next_delay(so.polls) if so.status in POLLED else None
            return so.status
