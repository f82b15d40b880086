"""One refund at the store, proven with the real web server, outbox relay and prefork worker: the
worker SIGKILLed while refundCreate's answer is in flight (the store has already made the refund),
and a claim refunded within policy that completes only once the store confirmed the money."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from app.refunds import service
from app.refunds.models import Refund
from app.resolutions import service as resolutions
from app.resolutions.models import Resolution
from tests.fixtures import wait_for
from tests.refunds.helpers import behave, store_order, store_refunds
from tests.suppliers.e2e import store_shop, worker_children_calling_live_server

pytestmark = pytest.mark.e2e


def _row(refund_id: int) -> Refund:
    with get_sessionmaker()() as session:
        return session.get(Refund, refund_id)


def _kinds(order_id: int, prefix: str) -> list[str]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(EvidenceEvent.kind).where(
            EvidenceEvent.order_id == order_id, EvidenceEvent.kind.like(f"{prefix}%")).order_by(EvidenceEvent.seq)))


def test_worker_killed_while_the_answer_is_in_flight_makes_one_refund(db, live_server, celery_worker):
    shop = store_shop(db)
    order, store = store_order(db, shop)
    # The store makes the refund, then holds its answer (and its webhooks) back for 20 s.
    behave(shop, hang_next=1, hang_ms=20000)
    refund = service.request_refund(db, shop, order, amount=Decimal("12.50"), reason="not_received",
                                    issued_by="dispute", key=f"dg-e2e-{order.id}", note="Dropguard e2e")
    db.commit()
    wait_for(lambda: store_refunds(store["id"]), timeout=30, message="the refund at the store")
    children = wait_for(worker_children_calling_live_server, timeout=10, message="the pool child in the call")
    for child in children:
        os.kill(child.pid, signal.SIGKILL)

    done = wait_for(lambda: (row := _row(refund.id)).status == "confirmed" and row, timeout=60,
                    message="the refund confirmed after the retry")
    assert done.attempts == 2
    assert len(store_refunds(store["id"])) == 1
    ledger = _kinds(order.id, "refund.")
    assert ledger.count("refund.issue_attempt") == 2
    assert ledger.count("refund.issued") == 1 and ledger.count("refund.confirmed") == 1
    # The held webhooks arrive at last and are processed by the worker: still one refund, counted once.
    wait_for(lambda: _financial(order.id) == "partially_refunded", timeout=60, message="orders/updated processed")
    with get_sessionmaker()() as session:
        rows = session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert [(r.id, r.status) for r in rows] == [(refund.id, "confirmed")]
    assert _kinds(order.id, "refund.").count("refund.confirmed") == 1


def _financial(order_id: int) -> str:
    with get_sessionmaker()() as session:
        return session.get(Order, order_id).financial_status


def test_claim_refund_completes_when_the_store_confirms(db, live_server, celery_worker):
    shop = store_shop(db)
    order, store = store_order(db, shop)
    order.placed_at -= timedelta(days=30)  # overdue: a "not received" claim is possible
    resolution = resolutions.report(db, shop, order, reason="not_received", message="Never came", photos=[],
                                    photo_names=[], locale="en", ip=None, user_agent=None)
    resolutions.accept(db, shop, order, resolution, remedy="full_refund", ip=None, user_agent=None)
    db.commit()

    def completed():
        with get_sessionmaker()() as session:
            return session.get(Resolution, resolution.id).status == "completed"

    wait_for(completed, timeout=60, message="the claim completed")
    (at_store,) = store_refunds(store["id"])
    assert Decimal(at_store["transactions"][0]["amount"]) == order.total_price
    wait_for(lambda: _financial(order.id) == "refunded", timeout=30, message="the order reads refunded")
    ledger = _kinds(order.id, "re")
    # The claim completes after the store confirmed the refund, never before.
    assert ledger.index("refund.confirmed") < ledger.index("resolution.refund_confirmed")
