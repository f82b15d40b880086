"""Reading the store's refund records, and naming why money went back (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.refunds import reasons
from app.refunds.records import BadRefundPayload, from_graphql, from_webhook, key_in_note, marker

WEBHOOK = {
    "id": 890123, "admin_graphql_api_id": "gid://shopify/Refund/890123", "order_id": 450789,
    "created_at": "2026-12-01T10:00:00-05:00", "processed_at": "2026-12-01T10:00:05-05:00",
    "note": "Arrived cracked [dropguard:dg-1-2-refund-3]",
    "refund_line_items": [{"id": 1, "line_item_id": 777, "quantity": 1, "subtotal": 19.5, "total_tax": 0.5}],
    "transactions": [
        {"kind": "refund", "status": "success", "amount": "15.00", "currency": "EUR"},
        {"kind": "refund", "status": "pending", "amount": "5.00", "currency": "EUR"},
        {"kind": "refund", "status": "failure", "amount": "1.00", "currency": "EUR"},
        {"kind": "sale", "status": "success", "amount": "99.00", "currency": "EUR"},
    ],
}


def test_webhook_refund_sums_each_outcome_and_keeps_lines():
    report = from_webhook(WEBHOOK)
    assert (report.external_id, report.order_external_id, report.currency) == ("890123", 450789, "EUR")
    assert (report.succeeded, report.pending, report.failed, report.transactions) == (
        Decimal("15.00"), Decimal("5.00"), Decimal("1.00"), 3)
    assert report.outcome == "confirmed"
    assert report.lines == [{"line_id": "777", "quantity": 1, "amount": "20.00"}]
    assert report.refunded_at.isoformat() == "2026-12-01T10:00:05-05:00"
    assert key_in_note(report.note) == "dg-1-2-refund-3"


@pytest.mark.parametrize(("statuses", "outcome"), [
    (["pending"], "issued"), (["failure"], "failed"), (["error", "failure"], "failed"),
    (["failure", "success"], "confirmed"), ([], "confirmed"),
])
def test_outcome_follows_the_transactions(statuses, outcome):
    payload = {**WEBHOOK, "transactions": [{"kind": "refund", "status": s, "amount": "3.00"} for s in statuses]}
    assert from_webhook(payload).outcome == outcome


@pytest.mark.parametrize(("change", "message"), [
    ({"id": None}, "numeric id"), ({"transactions": "x"}, "lists"),
    ({"transactions": [{"kind": "refund", "status": "success", "amount": "abc"}]}, "not an amount"),
    ({"transactions": [{"kind": "refund", "status": "success", "amount": "-3"}]}, "out of range"),
    ({"processed_at": "yesterday"}, "ISO-8601"), ({"processed_at": "2026-12-01T10:00:00"}, "time zone"),
])
def test_bad_webhook_refunds_are_refused_with_a_reason(change, message):
    with pytest.raises(BadRefundPayload, match=message):
        from_webhook({**WEBHOOK, **change})


def test_graphql_refund_with_and_without_transactions():
    node = {
        "id": "gid://shopify/Refund/55", "createdAt": "2026-12-01T15:00:00Z", "note": None,
        "totalRefundedSet": {"shopMoney": {"amount": "0.00", "currencyCode": "USD"}},
        "transactions": {"nodes": [{"kind": "REFUND", "status": "PENDING",
                                    "amountSet": {"shopMoney": {"amount": "12.00", "currencyCode": "USD"}}}]},
        "refundLineItems": {"nodes": [{"quantity": 2, "lineItem": {"id": "gid://shopify/LineItem/9"},
                                       "subtotalSet": {"shopMoney": {"amount": "12.00"}}}]},
    }
    report = from_graphql(node, order_external_id=4)
    assert (report.external_id, report.outcome, report.pending, report.lines[0]["line_id"]) == (
        "55", "issued", Decimal("12.00"), "9")
    # The history import reads totals only: money the store shows as refunded went back.
    history = from_graphql({"legacyResourceId": "56", "createdAt": "2026-01-01T00:00:00Z",
                            "totalRefundedSet": {"shopMoney": {"amount": "4.00", "currencyCode": "USD"}}})
    assert (history.outcome, history.succeeded) == ("confirmed", Decimal("4.00"))


def test_marker_round_trip_and_no_false_match():
    assert key_in_note(f"Dropguard resolution 4 {marker('dg-9-8-refund-4-2')}") == "dg-9-8-refund-4-2"
    assert key_in_note("refund for [dropguard]") is None and key_in_note(None) is None


@pytest.mark.parametrize(("note", "reason"), [
    ("Customer says it arrived broken", "damaged"), ("Colis perdu par le transporteur", "not_received"),
    ("Paquete no recibido", "not_received"), ("Ware beschädigt angekommen", "damaged"),
    ("Wrong colour sent", "wrong_item"), ("Taille trop petite", "size"), ("late delivery, sorry", "late"),
    ("Chargeback threat: fraud", "fraud_claim"), ("Customer changed her mind", "changed_mind"),
    ("Order cancelled (customer)", "cancelled"), ("chocolate plate", "other"), ("", "unknown"), (None, "unknown"),
])
def test_reasons_from_the_merchants_note(note, reason):
    assert reasons.from_note(note) == reason
    assert reason in reasons.REASONS


def test_reasons_from_disputes_and_claims():
    assert reasons.from_dispute("product_not_received") == "not_received"
    assert reasons.from_dispute("fraudulent") == "fraud_claim"
    assert reasons.from_dispute("general") == "dispute"
    assert reasons.from_claim("damaged") == "damaged" and reasons.from_claim("bogus") == "other"
