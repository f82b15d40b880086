"""Submitting evidence through the store's disputeEvidenceUpdate: once, recorded as evidence, the
store's user errors kept for the merchant, and the automatic sweep that never sends an incomplete
pack. Tasks run in-process against the store emulator behind the live server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import get_settings
from app.db import get_sessionmaker, utcnow
from app.disputes import submission
from app.disputes.models import Dispute
from app.evidence.models import EvidenceEvent
from app.shops.models import Shop
from tests.disputes.helpers import decide, dispute_row, hold, process_latest, store_dispute
from tests.disputes.helpers import open_dispute as store_open
from tests.disputes.scenario import store_order_delivered
from tests.refunds.helpers import store_order
from tests.suppliers.e2e import store_shop


@pytest.fixture
def shop(db, live_server) -> Shop:
    return store_shop(db)


def _kinds(dispute_id: int) -> list[str]:
    with get_sessionmaker()() as session:
        return [e.kind for e in session.scalars(select(EvidenceEvent).where(EvidenceEvent.kind.like("dispute.sub%"))
                                                .order_by(EvidenceEvent.seq)) if e.data.get("dispute_id") == dispute_id]


def _request(db, shop, dispute_id: int, by: str = "merchant") -> str:
    dispute = db.get(Dispute, dispute_id, with_for_update=True)
    outcome = submission.request(db, db.get(Shop, shop.id), dispute, by=by)
    hold(db)
    db.commit()
    return outcome


def test_merchant_submits_once_then_the_bank_decides(db, shop, client):
    order, shipment, store = store_order_delivered(db, shop, client)
    created = store_open(shop, store["id"], reason="product_not_received", network_reason_code="13.1")
    assert process_latest(shop, "disputes/create", 1) == "processed"
    row = dispute_row(shop, created["id"])

    assert _request(db, shop, row.id) == "queued"
    assert submission.submit(row.id) == "submitted"
    assert submission.submit(row.id) == "submitted"  # a repeat sends nothing
    with pytest.raises(submission.SubmissionError, match="already submitted"):
        submission.request(db, db.get(Shop, shop.id), db.get(Dispute, row.id, populate_existing=True), by="merchant")
    db.rollback()

    at_store = store_dispute(created["id"])
    assert at_store["evidence_updates"] == 1 and at_store["evidence"]["submitted"] is True
    text = at_store["evidence"]["uncategorizedText"]
    assert shipment.tracking_number in text and "delivered" in text
    assert _kinds(row.id) == ["dispute.submission_queued", "dispute.submission_attempt", "dispute.submitted"]
    row = dispute_row(shop, created["id"])
    assert (row.submission_status, row.submitted_by, row.submission_attempts) == ("submitted", "merchant", 1)

    # The store moves it under review (disputes/update), then the bank decides.
    assert process_latest(shop, "disputes/update", 1) == "processed"
    decide(created["id"], "won")
    assert process_latest(shop, "disputes/update", 2) == "processed"
    row = dispute_row(shop, created["id"])
    assert [h["status"] for h in row.status_history] == ["needs_response", "under_review", "won"]
    assert row.outcome == "won"


def test_the_stores_user_errors_are_kept_for_the_merchant(db, shop):
    order, store = store_order(db, shop)
    created = store_open(shop, store["id"], reason="general", due_in_days=-1)
    assert process_latest(shop, "disputes/create", 1) == "processed"
    row = dispute_row(shop, created["id"])
    # Our deadline passed too: refused before any call.
    with pytest.raises(submission.SubmissionError, match="deadline has passed"):
        _request(db, shop, row.id)
    db.rollback()
    # Our clock says there is time (a day-only deadline), the store's says not: its error is shown.
    db.get(Dispute, row.id).evidence_due_by = utcnow() + timedelta(hours=3)
    db.commit()
    assert _request(db, shop, row.id) == "queued"
    assert submission.submit(row.id) == "failed"
    row = dispute_row(shop, created["id"])
    assert row.submission_status == "failed" and row.submission_error.startswith("EVIDENCE_PAST_DUE_DATE")
    assert _kinds(row.id)[-1] == "dispute.submission_refused"


def test_automatic_submission_holds_back_an_incomplete_pack(db, shop, client, monkeypatch):
    monkeypatch.setattr(get_settings(), "dispute_auto_submit_days", 30)
    # Not shipped at all: the not-received pack lacks tracking, scans and delivery.
    bare, bare_store = store_order(db, shop)
    incomplete = store_open(shop, bare_store["id"], reason="product_not_received")
    assert process_latest(shop, "disputes/create", 1) == "processed"
    order, shipment, store = store_order_delivered(db, shop, client)
    complete = store_open(shop, store["id"], reason="product_not_received")
    assert process_latest(shop, "disputes/create", 2) == "processed"
    with get_sessionmaker()() as session:
        hold(session)
        session.commit()

    assert submission.auto_submit_due() >= 1
    with get_sessionmaker()() as session:
        hold(session)
        session.commit()
    held, ready = dispute_row(shop, incomplete["id"]), dispute_row(shop, complete["id"])
    assert held.submission_status == "held" and ready.submission_status == "queued"
    assert _kinds(held.id) == ["dispute.submission_held"]
    with get_sessionmaker()() as session:
        (event,) = [e for e in session.scalars(select(EvidenceEvent).where(EvidenceEvent.kind == "dispute.submission_held"))
                    if e.data["dispute_id"] == held.id]
    assert set(event.data["missing"]) >= {"carrier_tracking", "scan_timeline", "delivery_scan"}
    # A second sweep records nothing more and still sends nothing.
    submission.auto_submit_due()
    assert _kinds(held.id) == ["dispute.submission_held"]
    assert store_dispute(incomplete["id"])["evidence_updates"] == 0
    assert submission.submit(ready.id) == "submitted"
    assert submission.submit(held.id) == "held"  # the task itself refuses a held pack
    assert store_dispute(incomplete["id"])["evidence_updates"] == 0


def test_an_api_version_with_uploaded_files_attaches_the_evidence_pdf(db, shop, client, monkeypatch):
    """On `unstable` the PDF is staged (DISPUTE_FILE_UPLOAD), uploaded and attached as the response
    summary file; the stable versions' store refuses uploadedFiles, so they send text alone."""
    monkeypatch.setattr(get_settings(), "shopify_api_version", "unstable")
    assert submission.attaches_files()
    order, shipment, store = store_order_delivered(db, shop, client)
    created = store_open(shop, store["id"], reason="product_not_received", network_reason_code="13.1")
    assert process_latest(shop, "disputes/create", 1) == "processed"
    row = dispute_row(shop, created["id"])
    assert _request(db, shop, row.id) == "queued"
    assert submission.submit(row.id) == "submitted"
    at_store = store_dispute(created["id"])
    (attached,) = at_store["evidence"]["files"]
    assert attached["disputeEvidenceType"] == "RESPONSE_SUMMARY_FILE" and attached["fileType"] == "application/pdf"
    assert 2_000 < attached["fileSize"] < 1024 * 1024 and attached["originalFileName"] == f"DG{str(created['id'])[-10:]}.pdf"
    with get_sessionmaker()() as session:
        (attempt,) = [e for e in session.scalars(select(EvidenceEvent).where(
            EvidenceEvent.kind == "dispute.submission_attempt")) if e.data["dispute_id"] == row.id]
    assert attempt.data["file_bytes"] == attached["fileSize"]


def test_a_stable_version_store_refuses_uploaded_files(db, shop):
    """What the emulator answers a client that sends uploadedFiles on a stable version."""
    from app.shops import tokens
    from app.shops.admin_client import AdminClient

    order, store = store_order(db, shop)
    created = store_open(shop, store["id"], reason="general")
    token = tokens.access_token_for(shop.id)
    with AdminClient(shop_domain=shop.domain, access_token=token, shop_id=shop.id, retries=0) as admin:
        payload = admin.mutate(submission.UPDATE, {
            "id": f"gid://shopify/ShopifyPaymentsDisputeEvidence/{created['id']}",
            "input": {"uncategorizedText": "x", "uploadedFiles": [
                {"originalFileName": "a.pdf", "originalSource": "https://example.invalid/a"}]}},
            raise_user_errors=False)
    assert payload["userErrors"][0]["code"] == "INVALID" and "2026-07" in payload["userErrors"][0]["message"]
