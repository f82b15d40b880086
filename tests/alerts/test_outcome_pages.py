"""The outcome pages as the merchant reads them: win rates and recovered amounts by reason and
supplier (charts with their tables), ratios against the lines, alerts with their decisions, digests
and their check, in English and French; another shop's data never shows."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.alerts import service
from app.alerts.payload import parse
from app.db import utcnow
from app.disputes import service as disputes
from app.disputes import win_rates
from app.evidence import digest
from app.insights import aggregates
from app.web import attention
from tests.alerts.helpers import alert_body
from tests.factories import session_token
from tests.suppliers.helpers import hold_outbox, planned

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _dispute(db, shop, order, status, reason, amount="19.90"):
    disputes.upsert(db, shop, {"id": uuid.uuid4().int % 10**12, "status": status, "reason": reason, "amount": amount,
                               "currency": shop.currency, "order_id": order.external_id, "type": "chargeback",
                               "initiated_at": (utcnow() - timedelta(days=3)).isoformat()})


@pytest.fixture
def history(db, shop):
    orders = [planned(db, shop)[0] for _ in range(4)]
    _dispute(db, shop, orders[0], "won", "product_not_received")
    _dispute(db, shop, orders[1], "won", "product_not_received")
    _dispute(db, shop, orders[2], "lost", "product_not_received")
    _dispute(db, shop, orders[3], "needs_response", "fraudulent")
    hold_outbox(db)
    db.commit()
    for order in orders:
        aggregates.refresh_order(db, order.id)
    alert = service.record(db, parse(alert_body(shop.domain, order_reference=orders[3].name, reason="fraud", reason_code="10.4")), b"{}")
    service.decide(db, alert.alert_id)
    digest.record_day(db, shop, date(2026, 12, 3))
    hold_outbox(db)
    db.commit()
    return orders


def _get(client, shop, path, **query):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    response = client.get(f"{path}?id_token={session_token(shop.domain)}&{params}")
    assert response.status_code == 200, response.text
    return response.text


def test_win_rates_by_reason_and_supplier_add_up(db, shop, history):
    by_reason = {r["key"]: r for r in win_rates.by_dimension(db, shop, "reason")}
    assert (by_reason["product_not_received"]["won"], by_reason["product_not_received"]["lost"]) == (2, 1)
    assert by_reason["product_not_received"]["win_rate"] == pytest.approx(2 / 3)
    assert str(by_reason["product_not_received"]["recovered"]) == "39.80"
    assert by_reason["fraudulent"]["open"] == 1 and by_reason["fraudulent"]["win_rate"] is None
    (supplier,) = win_rates.by_dimension(db, shop, "supplier")
    assert supplier["disputes"] == 4 and supplier["label"] and supplier["key"] != 0
    assert win_rates.totals(list(by_reason.values()))["recovered"] == supplier["recovered"]


def test_outcomes_page_charts_each_with_its_table(client, shop, history):
    page = _get(client, shop, "/admin/outcomes")
    assert "Dispute outcomes" in page and "Win rate by reason" in page
    assert page.count('data-chart="ranking"') == 2 and page.count('<table class="chart-table">') == 2
    row = re.search(r'<tr data-key="product_not_received">(.*?)</tr>', page, re.S).group(1)
    assert "Product not received" in row and "66.7%" in row and "$39.80" in row
    french = _get(client, shop, "/admin/outcomes", by="supplier", locale="fr")
    assert "Taux de gain par fournisseur" in french and "Litiges par fournisseur" in french


def test_ratios_page_shows_both_counting_ways_and_the_lines(client, shop, history):
    page = _get(client, shop, "/admin/outcomes/ratios")
    for programme in ("visa_vamp", "mastercard_ecp", "mastercard_efm", "shopify_reserve"):
        assert f'data-programme="{programme}"' in page
    assert "disputes and fraud reports (Visa&#39;s rule)" in page and "alerts resolved before a dispute" in page
    assert "VAMP (1.50%)" in page and "Early (0.65%)" in page and "Visa&#39;s rule" in page
    assert "÷ last month&#39;s sales (Mastercard&#39;s rule)" in page
    assert "Ratios de litiges" in _get(client, shop, "/admin/outcomes/ratios", locale="fr")


def test_alerts_page_shows_each_decision_in_words(client, shop, history):
    page = _get(client, shop, "/admin/outcomes/alerts")
    assert 'data-decision="refund"' in page and "Fraud claim: a delivery scan does not answer it" in page
    assert "Refund waiting for the store" in page
    assert "Rembourser" in _get(client, shop, "/admin/outcomes/alerts", locale="fr")


def test_digests_page_and_its_check(client, db, shop, history):
    page = _get(client, shop, "/admin/outcomes/digests")
    assert 'data-day="2026-12-03"' in page
    form = {"id_token": session_token(shop.domain)}
    checked = client.post("/admin/outcomes/digests/check", data=form, follow_redirects=False)
    assert checked.status_code == 303
    notice = parse_qs(urlsplit(checked.headers["location"]).query)["notice"][0]
    assert notice == "The chain matches all 1 digests: no past evidence was changed."


def test_another_shops_data_never_shows(client, make_shop, shop, history):
    other = make_shop()
    assert "Product not received" not in _get(client, other, "/admin/outcomes")
    assert "data-alert=" not in _get(client, other, "/admin/outcomes/alerts")
    assert "data-day=" not in _get(client, other, "/admin/outcomes/digests")


def test_home_attention_lists_unanswered_alerts(db, shop, history):
    waiting = {item.key: count for item, count in attention.waiting(db, shop)}
    assert waiting.get("alerts_unreported") == 1
