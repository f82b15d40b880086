"""A dispute from the store's webhooks and its GraphQL record: type, network reason code, the real
deadline with its offset, the status history and the outcome the bank sends later."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.db import utcnow
from app.disputes import fetching
from app.sandbox.store.disputes import STORE_ZONE
from tests.disputes.helpers import decide, dispute_row, process_latest
from tests.disputes.helpers import open_dispute as store_open
from tests.refunds.helpers import store_order
from tests.suppliers.e2e import store_shop


@pytest.fixture
def shop(db, live_server):
    return store_shop(db)


def test_chargeback_recorded_completed_by_graphql_and_won(db, shop):
    order, store = store_order(db, shop)
    created = store_open(shop, store["id"], reason="product_not_received", network_reason_code="13.1")
    due = datetime.fromisoformat(created["evidence_due_by"])
    # Shopify's cut-off: 19:00 in the store's zone, weeks after the dispute opened.
    assert due.astimezone(STORE_ZONE).hour == 19 and due - utcnow() > timedelta(days=14)

    assert process_latest(shop, "disputes/create", 1) == "processed"
    row = dispute_row(shop, created["id"])
    assert (row.kind, row.reason, row.network_reason_code, row.status) == (
        "chargeback", "product_not_received", "13.1", "needs_response")
    assert row.evidence_due_by == due and row.evidence_due_offset == int(due.utcoffset().total_seconds() // 60)
    assert row.evidence_due_day_only is False
    assert [h["status"] for h in row.status_history] == ["needs_response"]

    assert fetching.fetch(row.id) == "fetched"
    row = dispute_row(shop, created["id"])
    assert row.fetched_at is not None and row.evidence_due_by == due  # the webhook's time stays

    decide(created["id"], "won")
    assert process_latest(shop, "disputes/update", 1) == "processed"
    row = dispute_row(shop, created["id"])
    assert (row.status, row.outcome) == ("won", "won") and row.closed_at is not None
    assert [h["status"] for h in row.status_history] == ["needs_response", "won"]


def test_graphql_fills_what_the_webhook_lacked(db, shop):
    """A webhook without network code or deadline time: the code comes from dispute(id:), the
    deadline from its Date as the start of that day in the shop's zone."""
    from app.disputes import service
    from app.disputes.models import Dispute

    order, store = store_order(db, shop)
    created = store_open(shop, store["id"], type="inquiry", reason="fraudulent", network_reason_code="10.4")
    payload = {k: v for k, v in created.items() if k not in ("network_reason_code", "evidence_due_by", "evidence")}
    dispute = service.upsert(db, shop, payload)
    db.commit()
    assert dispute.network_reason_code is None and dispute.evidence_due_by is None
    assert fetching.fetch(dispute.id) == "fetched"
    db.expire_all()
    dispute = db.get(Dispute, dispute.id)
    due_day = datetime.fromisoformat(created["evidence_due_by"]).astimezone(STORE_ZONE).date()
    assert (dispute.kind, dispute.network_reason_code) == ("inquiry", "10.4")
    assert dispute.evidence_due_day_only and dispute.evidence_due_by.date() == due_day
    assert dispute.evidence_due_by.hour == 0  # shop zone UTC in the test shop: midnight of that day
