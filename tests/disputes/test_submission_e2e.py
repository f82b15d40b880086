"""Submission with the real web server, outbox relay and prefork worker: the worker SIGKILLed while
disputeEvidenceUpdate's answer is in flight (the store has already taken the evidence). The retry
reads the store first and adopts it: the store counts one evidence update."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.disputes import submission
from app.disputes.models import Dispute
from app.evidence.models import EvidenceEvent
from app.shops.models import Shop
from tests.disputes.helpers import dispute_row, process_latest, store_dispute
from tests.disputes.helpers import open_dispute as store_open
from tests.disputes.scenario import store_order_delivered
from tests.fixtures import wait_for
from tests.refunds.helpers import behave
from tests.suppliers.e2e import store_shop, worker_children_calling_live_server

pytestmark = pytest.mark.e2e


def test_worker_killed_mid_submission_submits_exactly_once(db, live_server, celery_worker, client):
    shop = store_shop(db)
    order, shipment, store = store_order_delivered(db, shop, client)
    created = store_open(shop, store["id"], reason="product_not_received", network_reason_code="13.1")
    assert process_latest(shop, "disputes/create", 1) == "processed"
    row = dispute_row(shop, created["id"])
    # The store takes the evidence, then holds its answer (and its webhook) back for 20 s.
    behave(shop, hang_next=1, hang_ms=20000)
    dispute = db.get(Dispute, row.id, with_for_update=True)
    assert submission.request(db, db.get(Shop, shop.id), dispute, by="merchant") == "queued"
    db.commit()  # the outbox row reaches the live worker

    wait_for(lambda: store_dispute(created["id"])["evidence"]["submitted"], timeout=60,
             message="the evidence taken by the store")
    children = wait_for(worker_children_calling_live_server, timeout=10, message="the pool child in the call")
    for child in children:
        os.kill(child.pid, signal.SIGKILL)

    done = wait_for(lambda: (r := dispute_row(shop, created["id"])).submission_status == "submitted" and r,
                    timeout=90, message="the submission recorded after the retry")
    assert done.submission_attempts == 2
    at_store = store_dispute(created["id"])
    assert at_store["evidence_updates"] == 1
    with get_sessionmaker()() as session:
        events = [e for e in session.scalars(select(EvidenceEvent).where(EvidenceEvent.kind.like("dispute.sub%"))
                                             .order_by(EvidenceEvent.seq)) if e.data.get("dispute_id") == row.id]
    kinds = [e.kind for e in events]
    assert kinds.count("dispute.submission_attempt") == 2 and kinds.count("dispute.submitted") == 1
    assert events[-1].data["via"] == "lookup"
