"""Dispute and fraud ratios on hand-computed histories: just below, at and above each line, the
early warning, both counting variants where sources disagree, and warnings sent once a month."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import func, select

from app.alerts import merchant_mail, ratio_watch
from app.alerts.models import MerchantMail, RatioWarning
from app.disputes import ratios
from app.disputes import service as disputes
from app.disputes.ratios import MonthCounts, evaluate
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from tests.suppliers.helpers import hold_outbox

APRIL, MARCH, MAY = date(2026, 4, 1), date(2026, 3, 1), date(2026, 5, 1)


def reading(history, month, programme, variant):
    (found,) = [r for r in evaluate(history) if (r.month, r.programme, r.variant) == (month, programme, variant)]
    return found


def one(month=APRIL, **counts):
    return [MonthCounts(month, **{"transactions": 1000, "disputes": 0, "fraud_disputes": 0, **counts})]


def test_vamp_just_below_at_and_above_the_early_warning_and_the_line():
    levels = {}
    for disputes_count, tc40 in ((6, 0), (6, 1), (14, 0), (15, 0), (14, 1), (16, 0)):
        r = reading(one(disputes=disputes_count, tc40=tc40), APRIL, "visa_vamp", "tc15_tc40")
        levels[(disputes_count, tc40)] = (r.ratio, r.level)
    assert levels[(6, 0)] == (Decimal("0.006"), None)  # 0.60 %: just below the 0.65 % early warning
    assert levels[(6, 1)] == (Decimal("0.007"), "early_warning")  # TC40 fraud reports count (Visa's rule)
    assert levels[(14, 0)] == (Decimal("0.014"), "early_warning")  # 1.40 %: just below the 1.50 % line
    assert levels[(15, 0)] == (Decimal("0.015"), "at_threshold")  # exactly at the line
    assert levels[(14, 1)][1] == "at_threshold"
    assert levels[(16, 0)][1] == "at_threshold"


def test_vamp_early_warning_exactly_at_its_level():
    r = reading([MonthCounts(APRIL, 2000, 13, 0)], APRIL, "visa_vamp", "tc15_tc40")
    assert r.ratio == Decimal("0.0065") and r.level == "early_warning"


def test_vamp_line_moved_from_2_20_to_1_50_percent_on_1_april_2026():
    march = reading(one(MARCH, disputes=20), MARCH, "visa_vamp", "tc15_tc40")
    april = reading(one(APRIL, disputes=20), APRIL, "visa_vamp", "tc15_tc40")
    assert (march.line.ratio, march.level) == (Decimal("0.022"), "early_warning")
    assert (april.line.ratio, april.level) == (Decimal("0.015"), "at_threshold")
    # The merchant programme bites only past 1,500 fraud + disputes a month: said, not hidden.
    assert april.count_met is False and april.line.min_count == 1500


def test_the_two_vamp_variants_disagree_when_alerts_resolved_disputes():
    history = one(disputes=5, alerts=2)
    visa_rule = reading(history, APRIL, "visa_vamp", "tc15_tc40")
    pessimistic = reading(history, APRIL, "visa_vamp", "with_alerts")
    assert (visa_rule.count, visa_rule.level) == (5, None)  # 0.50 %
    assert (pessimistic.count, pessimistic.level) == (7, "early_warning")  # 0.70 %


def test_mastercard_divides_by_last_months_sales_and_stripe_by_this_months():
    history = [MonthCounts(APRIL, 2000, 3, 0), MonthCounts(MAY, 1000, 20, 0)]
    previous = reading(history, MAY, "mastercard_ecp", "previous_month")
    same = reading(history, MAY, "mastercard_ecp", "same_month")
    assert (previous.base, previous.ratio, previous.crossed.name) == (2000, Decimal("0.01"), "cmm")
    assert (same.base, same.ratio, same.crossed.name) == (1000, Decimal("0.02"), "ecm")
    assert previous.count_met is False  # CMM needs 100 chargebacks
    # The first month has no previous month to divide by: no ratio, no warning.
    first = reading(history, APRIL, "mastercard_ecp", "previous_month")
    assert (first.ratio, first.level) == (None, None)
    just_below = reading([MonthCounts(APRIL, 1000, 0, 0), MonthCounts(MAY, 1000, 9, 0)], MAY, "mastercard_ecp",
                         "previous_month")
    assert (just_below.ratio, just_below.crossed, just_below.level) == (Decimal("0.009"), None, "early_warning")


def test_hecm_needs_three_percent():
    r = reading(one(disputes=30), APRIL, "mastercard_ecp", "same_month")
    assert r.crossed.name == "hecm" and r.level == "at_threshold"
    r = reading(one(disputes=29), APRIL, "mastercard_ecp", "same_month")
    assert r.crossed.name == "ecm"


def test_fraud_ratio_against_efm():
    assert reading(one(fraud_disputes=3, disputes=3), APRIL, "mastercard_efm", "fraud_chargebacks").level is None
    assert reading(one(fraud_disputes=4, disputes=4), APRIL, "mastercard_efm", "fraud_chargebacks").level == "early_warning"
    at = reading(one(fraud_disputes=5, disputes=5), APRIL, "mastercard_efm", "fraud_chargebacks")
    assert (at.ratio, at.level) == (Decimal("0.005"), "at_threshold")


def test_no_transactions_no_ratio():
    r = reading([MonthCounts(APRIL, 0, 2, 0)], APRIL, "shopify_reserve", "same_month")
    assert (r.ratio, r.level) == (None, None)


def _orders(db, shop, count: int, at: datetime) -> list[Order]:
    rows = [Order(shop_id=shop.id, external_id=10**12 + i + uuid.uuid4().int % 10**9, name=f"#{5000 + i}",
                  currency="USD", total_price=Decimal("20.00"), financial_status="paid", placed_at=at,
                  source_updated_at=at) for i in range(count)]
    db.add_all(rows)
    db.flush()
    return rows


def _dispute(db, shop, order, at: datetime, *, kind="chargeback", reason="product_not_received"):
    disputes.upsert(db, shop, {"id": uuid.uuid4().int % 10**12, "status": "needs_response", "type": kind,
                               "reason": reason, "amount": "20.00", "currency": "USD",
                               "order_id": order.external_id, "initiated_at": at.isoformat()})


def test_warned_once_per_month_and_line_from_the_database(db, make_shop, live_server):
    shop = make_shop()
    shop.email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC).replace(day=15, hour=12)
    placed = _orders(db, shop, 200, now - timedelta(days=1))
    # 2 chargebacks of 200 orders = 1.00 %; an inquiry moves no money and is not counted.
    _dispute(db, shop, placed[0], now)
    _dispute(db, shop, placed[1], now, reason="fraudulent")
    _dispute(db, shop, placed[2], now, kind="inquiry")
    hold_outbox(db)
    db.commit()
    month = ratios.month_start(now)
    current = {(r.programme, r.variant): r for r in ratios.readings(db, shop.id, months=1, now=now)}
    assert current[("shopify_reserve", "same_month")].count == 2
    assert current[("shopify_reserve", "same_month")].ratio == Decimal("0.01")
    assert current[("shopify_reserve", "same_month")].level == "at_threshold"
    assert current[("visa_vamp", "tc15_tc40")].level == "early_warning"
    assert current[("mastercard_efm", "fraud_chargebacks")].ratio == Decimal("0.005")  # 1 fraud chargeback of 200
    first = ratio_watch.check_shop(db, shop, now=now)
    hold_outbox(db)
    db.commit()
    again = ratio_watch.check_shop(db, shop, now=now)
    db.commit()
    assert first and again == []
    warnings = db.scalars(select(RatioWarning).where(RatioWarning.shop_id == shop.id)).all()
    assert {(w.month, w.programme, w.level) for w in warnings} >= {
        (month, "shopify_reserve", "at_threshold"), (month, "visa_vamp", "early_warning")}
    mails = db.scalars(select(MerchantMail).where(MerchantMail.shop_id == shop.id)).all()
    # One e-mail per programme and level, whatever the number of variants.
    assert len(mails) == len({(w.programme, w.level) for w in warnings})
    assert db.scalar(select(func.count()).select_from(EvidenceEvent).where(
        EvidenceEvent.shop_id == shop.id, EvidenceEvent.kind == "ratio.warning")) == len(warnings)
    assert ratio_watch.current_warnings(db, shop, "at_threshold", now=now) >= 1
    reserve = next(m for m in mails if m.key == f"ratio:{month.isoformat()}:shopify_reserve:at_threshold")
    assert "1.00%" in reserve.body and "2 of 200" in reserve.body
    # Sent through the mailer to the sandbox's mail catcher, once.
    assert merchant_mail.send(reserve.id) == "sent"
    assert merchant_mail.send(reserve.id) == "sent"
    inbox = httpx.get(f"{live_server}/sandbox/mail", params={"to": shop.email}, timeout=10).json()["messages"]
    assert [m["subject"].strip() for m in inbox].count(reserve.subject) == 1
