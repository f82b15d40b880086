"""customers/data_request and customers/redact: the export, redaction everywhere, disputes holding it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.disputes.models import Dispute
from app.evidence.service import verify_chain
from app.orders.models import Customer, DeliveryAddress, Order
from app.privacy.models import PrivacyRequest
from app.privacy.tasks import housekeeping
from tests.privacy.helpers import (
    data_request_payload,
    deliver,
    ledger_verify,
    new_person,
    order_of,
    photo_files,
    redact_payload,
    spread,
    strings_present,
)
from tests.webhooks.helpers import evidence


def _requests(db, shop, kind):
    db.expire_all()
    return list(
        db.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.shop_id == shop.id, PrivacyRequest.kind == kind)
            .order_by(PrivacyRequest.id)
        )
    )


def test_data_request_exports_everything_held_on_the_customer(db, shop):
    person = new_person()
    order = spread(db, shop, person)
    other = new_person()
    spread(db, shop, other)

    _, outcome = deliver(shop, "customers/data_request", data_request_payload(shop, person))

    assert outcome == "processed"
    [request] = _requests(db, shop, "customer_data_request")
    assert (request.status, request.external_request_id) == ("done", "9999")
    export = request.export
    text = json.dumps(export)
    for value in (person.email, person.phone, person.first_name, person.address1, person.city):
        assert value in text
    assert other.email not in text and other.first_name not in text
    [customer] = export["customers"]
    assert customer["email"] == person.email
    [exported] = export["orders"]
    assert (
        exported["id"] == order.id
        and exported["lines"]
        and exported["delivery_address"]["city"] == person.city
    )
    assert exported["notifications"][0]["last_error"].endswith("mailbox unavailable")
    assert exported["resolutions"][0]["message"].startswith(person.first_name)
    kinds = {e["kind"] for e in export["evidence_events"]}
    assert {"order.snapshot_applied", "supplier_order.requested"} <= kinds
    assert any(e["personal"] for e in export["evidence_events"])
    topics = {p["topic"] for p in export["webhook_payloads"]}
    assert {"orders/create", "fulfillments/create", "customers/data_request"} <= topics
    [fulfilled] = evidence(db, shop.domain, "privacy.data_request_fulfilled")
    assert (
        fulfilled.data["request_id"] == request.id
        and fulfilled.data["export_sha256"] == request.export_sha256
    )
    assert fulfilled.personal is None and person.email not in json.dumps(fulfilled.data)


def test_customer_redact_leaves_no_trace_in_any_table_and_the_ledger_verifies(db, shop):
    person = new_person()
    spread(db, shop, person)
    bystander = new_person()
    spread(db, shop, bystander)
    deliver(shop, "customers/data_request", data_request_payload(shop, person))
    assert strings_present([person.email]), "the scan must find the data before redaction"

    assert len(photo_files(shop.id)) == 2
    _, outcome = deliver(shop, "customers/redact", redact_payload(shop, person))

    assert outcome == "processed"
    assert strings_present(person.strings) == []
    assert len(photo_files(shop.id)) == 1, "the person's photo is deleted, the bystander's kept"
    # Nothing of another customer of the same shop was touched.
    assert {s for _, _, s in strings_present(bystander.strings)} == set(bystander.strings)
    report = verify_chain(db, shop.domain)
    assert report.intact, report.reason
    result = ledger_verify(shop.domain)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all intact" in result.stdout
    [request] = _requests(db, shop, "customer_redact")
    assert request.status == "done" and request.completed_at is not None
    [redacted] = evidence(db, shop.domain, "privacy.customer_redacted")
    assert redacted.data["request_id"] == request.id
    assert redacted.data["evidence_events"] >= 2 and redacted.data["payloads"] >= 3
    customer = db.scalar(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == str(person.customer_id))
    )
    assert customer.redacted_at is not None and customer.email is None
    # Country and province stay (delivery-window statistics), the rest of the address goes.
    addresses = db.scalars(select(DeliveryAddress).where(DeliveryAddress.shop_id == shop.id)).all()
    mine = [a for a in addresses if a.address1 is None]
    assert len(mine) == 1 and mine[0].country_code == "US" and mine[0].city is None
    # A data export made before the redaction is gone with it.
    [data_request] = _requests(db, shop, "customer_data_request")
    assert data_request.export is None


def _dispute(shop, order_external_id: int, status: str, dispute_id: int = 4242) -> dict:
    return {
        "id": dispute_id,
        "order_id": order_external_id,
        "type": "chargeback",
        "amount": "39.80",
        "currency": "USD",
        "reason": "product_not_received",
        "network_reason_code": "13.1",
        "status": status,
        "evidence_due_by": "2026-12-20T00:00:00-05:00",
        "evidence_sent_on": None,
        "finalized_on": None,
        "initiated_at": "2026-11-20T10:00:00-05:00",
    }


def test_redaction_waits_for_an_open_dispute_and_runs_when_it_closes(db, shop):
    person = new_person()
    order = spread(db, shop, person)
    assert (
        deliver(shop, "disputes/create", _dispute(shop, order.external_id, "needs_response"))[1]
        == "processed"
    )

    deliver(shop, "customers/redact", redact_payload(shop, person))

    [request] = _requests(db, shop, "customer_redact")
    assert request.status == "held"
    assert "4242 (needs response)" in request.reason and "dispute" in request.reason
    assert strings_present([person.email, person.address1]), "held: the evidence is still there"
    [held] = evidence(db, shop.domain, "privacy.redaction_held")
    assert held.data["request_id"] == request.id
    # The beat task leaves it held while the dispute is under review.
    deliver(shop, "disputes/update", _dispute(shop, order.external_id, "under_review"))
    housekeeping()
    assert _requests(db, shop, "customer_redact")[0].status == "held"

    deliver(shop, "disputes/update", _dispute(shop, order.external_id, "won"))
    dispute = db.scalar(select(Dispute).where(Dispute.shop_id == shop.id))
    db.refresh(dispute)
    assert dispute.status == "won" and dispute.closed_at is not None and dispute.order_id == order.id
    housekeeping()

    [request] = _requests(db, shop, "customer_redact")
    assert request.status == "done"
    assert strings_present(person.strings) == []
    kinds = [e.kind for e in evidence(db, shop.domain) if e.kind.startswith("privacy.")]
    assert kinds == ["privacy.redaction_held", "privacy.redaction_released", "privacy.customer_redacted"]
    assert verify_chain(db, shop.domain).intact


def test_a_late_dispute_update_never_reopens_a_closed_dispute(db, shop):
    person = new_person()
    order = spread(db, shop, person)
    deliver(shop, "disputes/create", _dispute(shop, order.external_id, "lost", dispute_id=77))
    deliver(shop, "disputes/update", _dispute(shop, order.external_id, "needs_response", dispute_id=77))
    dispute = db.scalar(select(Dispute).where(Dispute.shop_id == shop.id))
    assert dispute.status == "lost"


@pytest.mark.parametrize("payload", [{"id": 1}, {"id": 1, "status": "weird"}, {"status": "won"}])
def test_a_malformed_dispute_is_recorded_as_failed(shop, payload):
    assert deliver(shop, "disputes/create", payload)[1] == "failed"


def test_redact_for_an_unknown_customer_is_done_with_nothing_to_do(db, shop):
    person = new_person()
    _, outcome = deliver(shop, "customers/redact", redact_payload(shop, person))
    assert outcome == "processed"
    [request] = _requests(db, shop, "customer_redact")
    assert request.status == "done"
    assert strings_present([person.email]) == []


@pytest.mark.parametrize("keyed_by", ["customer_id", "email"])
def test_a_later_order_snapshot_writes_no_personal_data_back_for_a_redacted_customer(db, shop, keyed_by):
    person = new_person()
    create = order_of(person)
    if keyed_by == "email":
        del create["customer"]["id"]  # a guest checkout: the customer row is keyed by the address
    assert deliver(shop, "orders/create", create)[1] == "processed"
    assert deliver(shop, "customers/redact", redact_payload(shop, person))[1] == "processed"
    assert strings_present(person.strings) == []

    later = datetime.fromisoformat(create["updated_at"]) + timedelta(minutes=5)
    update = dict(create, updated_at=later.isoformat(), total_price="99.00")
    delivery_id, outcome = deliver(shop, "orders/updated", update)
    assert outcome == "processed"
    # The store's own new message is kept as received; nothing derived from it names the person.
    assert {table for table, _, _ in strings_present(person.strings)} == {"webhook_deliveries"}
    order = db.scalar(select(Order).where(Order.shop_id == shop.id, Order.external_id == create["id"]))
    assert order.total_price == Decimal("99.00")  # the rest of the snapshot is applied
    customer = db.get(Customer, order.customer_id)
    assert customer.redacted_at is not None and customer.email is None
    assert db.scalar(select(func.count()).select_from(Customer).where(Customer.shop_id == shop.id)) == 1
