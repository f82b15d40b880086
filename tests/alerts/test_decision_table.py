"""The refund-or-fight table, row by row: each case is one the merchant would recognise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.alerts.decision import TABLE, Facts, decide, refund_amount

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
D = Decimal


def facts(**overrides) -> Facts:
    base = dict(alert_type="ethoca", reason_family="not_received", amount=D("40.00"), refundable=D("40.00"),
                shipped=True, now=NOW)
    return Facts(**{**base, **overrides})


CASES = [
    # (facts, rule, action, outcome)
    (facts(order_found=False), "order_not_found", "none", "transaction_not_found"),
    (facts(alert_type="tc40", shipped=False), "fraud_report_only", "acknowledge", "acknowledged"),
    (facts(alert_type="rdr", shipped=False), "resolved_by_network", "acknowledge", "acknowledged"),
    (facts(refunded=D("40.00"), refundable=D("0")), "previously_refunded", "none", "previously_refunded"),
    # A partial refund before the alert: the rest is still owed and refunded.
    (facts(refunded=D("10.00"), refundable=D("30.00"), shipped=False), "not_shipped", "refund", "refunded"),
    (facts(reason_family="fraud_claim", delivered_proof=7), "fraud_unwinnable", "refund", "refunded"),
    (facts(cancelled=True), "order_cancelled", "refund", "refunded"),
    (facts(shipped=False), "not_shipped", "refund", "refunded"),
    (facts(delivered_proof=12), "delivered_with_proof", "fight", "decline"),
    (facts(reason_family="not_as_described", delivered_proof=12), "delivered_with_proof", "fight", "decline"),
    (facts(lost=True), "lost_in_transit", "refund", "refunded"),
    (facts(returned=True), "returned_to_sender", "refund", "refunded"),
    (facts(expected_by=NOW + timedelta(days=3)), "in_transit_on_time", "fight", "decline"),
    (facts(expected_by=NOW - timedelta(days=1)), "undelivered_past_promise", "refund", "refunded"),
    # Shipped, no promise known, no delivery scan: nothing would win a chargeback.
    (facts(), "undelivered_past_promise", "refund", "refunded"),
]


@pytest.mark.parametrize(("given", "rule", "action", "outcome"), CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
def test_each_row_decides_what_the_merchant_would(given, rule, action, outcome):
    chosen = decide(given)
    assert (chosen.name, chosen.action, chosen.outcome) == (rule, action, outcome)


def test_every_row_is_reached_by_a_case():
    assert {r.name for r in TABLE} == {c[1] for c in CASES}


def test_refund_is_what_is_still_owed_and_never_more_than_is_left():
    assert refund_amount(facts()) == D("40.00")
    assert refund_amount(facts(refunded=D("10.00"), refundable=D("30.00"))) == D("30.00")
    assert refund_amount(facts(amount=D("25.00"), refundable=D("40.00"))) == D("25.00")
    assert refund_amount(facts(amount=D("60.00"), refundable=D("40.00"))) == D("40.00")
