"""The risk model page and the order page's risk card: the stored model's evaluation, its
calibration chart and table, the models before it, the distance to a learned model, the card's
reasons and actions, French, and "retrain now" taken exactly once per click."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import get_sessionmaker, utcnow
from app.evidence.models import EvidenceEvent
from app.orders.service import apply_snapshot
from app.outbox.models import OutboxMessage
from app.risk import pages as risk_pages
from app.risk.models import RiskModel, RiskOutcome, RiskScore
from app.templating import environment, translate
from app.web import panels
from tests.factories import order_payload, session_token

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

FRENCH_FORWARDER = translate("fr", "risk.reason.forwarder")
CURVE = [{"predicted": 0.02, "observed": 0.03, "orders": 40}, {"predicted": 0.11, "observed": 0.1, "orders": 40},
         {"predicted": 0.42, "observed": 0.45, "orders": 40}]


def _evaluation(auc: float, brier: float) -> dict:
    return {
        "label_days": 60,
        "periods": {"train": {"from": "2026-01-02T00:00:00+00:00", "to": "2026-07-30T00:00:00+00:00", "orders": 480},
                    "test": {"from": "2026-08-01T00:00:00+00:00", "to": "2026-09-30T00:00:00+00:00", "orders": 120}},
        "examples": {"train": 900, "test": 120}, "positives": {"train": 70, "test": 19},
        "base_rate": {"train": 0.0778, "test": 0.1583},
        "learned": {"auc": auc, "brier": brier}, "rules": {"auc": 0.7012, "brier": 0.1301},
        "base_rate_brier": 0.1395, "calibration_curve": {"learned": CURVE, "rules": CURVE[:2]},
        "calibration_method": "platt", "mean_predicted": {"learned": 0.151, "rules": 0.09}, "coefficients": {},
    }


def _model(db, shop, version, status, auc, brier, days_ago):
    at = utcnow() - timedelta(days=days_ago)
    model = RiskModel(shop_id=shop.id, version=version, kind="learned", status=status, trained_at=at,
                      data_through=at - timedelta(days=60), label_days=60, parameters={},
                      evaluation=_evaluation(auc, brier))
    db.add(model)
    db.flush()
    return model


def _score(db, shop, order, level, probability, reasons):
    db.add(RiskScore(order_id=order.id, shop_id=shop.id, probability=probability, level=level, reasons=reasons,
                     features={}, model_kind="rules", model_version="rules-3", trigger="paid", digest="d" * 64,
                     scored_at=utcnow()))


@pytest.fixture
def scored_shop(db, make_shop):
    shop = make_shop()
    _model(db, shop, "learned-1", "retired", 0.74, 0.128, 40)
    _model(db, shop, "learned-2", "rejected", 0.69, 0.131, 20)
    _model(db, shop, "learned-3", "active", 0.8123, 0.1102, 2)
    orders = []
    for number, (level, p) in enumerate([("high", 0.61), ("high", 0.55), ("medium", 0.2), ("low", 0.03)], start=1001):
        order, _ = apply_snapshot(db, shop, "orders/create", order_payload(number=number))
        orders.append(order)
        _score(db, shop, order, level, p, [
            {"key": "forwarder", "weight": 1.2, "params": {}},
            {"key": "prior_refunds", "weight": 0.6, "params": {"count": 2}},
            {"key": "returning_customer", "weight": -0.4, "params": {}},
        ])
    for kind, n in (("refund", 3), ("dispute", 1)):
        for i in range(n):
            db.add(RiskOutcome(shop_id=shop.id, order_id=orders[i].id, kind=kind, bad=True, occurred_at=utcnow(),
                               source_ref=f"{kind}:{i}"))
    db.commit()
    return shop, orders


def _page(client: TestClient, shop, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/admin/risk?id_token={session_token(shop.domain)}&{query}")
    assert response.status_code == 200, response.text
    return response.text


def _cells(html: str, table: str) -> list[list[str]]:
    body = re.search(rf'data-table="{table}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_model_page_shows_the_active_models_held_out_evaluation(client, scored_shop):
    shop, _ = scored_shop
    html = _page(client, shop)
    assert 'data-model-kind="learned"' in html and "learned-3" in html
    assert _cells(html, "evaluation") == [
        ["ROC AUC (ranking: 0.5 is chance, 1 is perfect)", "0.812", "0.701", "0.500"],
        ["Brier score (lower is better)", "0.1102", "0.1301", "0.1395"],
        ["Mean predicted probability", "15.1%", "9.0%", "7.8%"],
        ["Share that ended in a refund or dispute", "15.8%", "15.8%", "15.8%"],
    ]
    assert "120 orders, 19 refunded or disputed, base rate 15.8%" in html
    # The calibration chart: its SVG is named, and its table holds every stored point.
    assert "<title" in html and "Calibration: predicted against observed</title>" in html
    calibration = re.search(r'data-chart="curve".*?</figure>', html, re.S).group(0)
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td class="num">([^<]*)</td><td class="num">([^<]*)</td>',
                      calibration)
    assert rows == [("Learned model", "2.0%", "3.0%"), ("Learned model", "11.0%", "10.0%"),
                    ("Learned model", "42.0%", "45.0%"), ("Rules", "2.0%", "3.0%"), ("Rules", "11.0%", "10.0%")]
    # Every model, newest first, with its status.
    assert re.findall(r'data-model="([^"]+)" data-status="([^"]+)"', html) == [
        ("learned-3", "active"), ("learned-2", "rejected"), ("learned-1", "retired")]
    levels = re.search(r'data-chart="distribution".*?</figure>', html, re.S).group(0)
    assert re.findall(r'<th scope="row">([^<]*)</th><td class="num">([^<]*)</td>', levels) == [
        ("Low", "1"), ("Medium", "1"), ("High", "2")]
    facts = re.search(r'id="facts".*?</table>', html, re.S).group(0)
    assert re.findall(r"<td>([^<]*)</td><td class=\"num\">(\d+)</td>", facts) == [("Refunds", "3"), ("Disputes", "1")]


def test_model_page_in_french(client, scored_shop):
    shop, _ = scored_shop
    html = _page(client, shop, locale="fr-FR")
    assert '<html lang="fr">' in html and "Modèle de risque" in html
    assert "<td class=\"num\">0,812</td>" in html and "15,8\u202f%" in html
    assert "Calibration : prévu contre observé</title>" in html


def test_a_shop_without_a_model_sees_the_rules_and_how_far_it_is(client, db, make_shop):
    shop = make_shop()
    html = _page(client, shop)
    assert 'data-model-kind="rules"' in html and "rules-" in html
    assert 'data-progress="0/' in html and "No model has been trained yet" in html
    assert "No order has been scored yet." in html


def test_model_page_never_shows_another_shops_models(client, scored_shop, make_shop):
    shop, _ = scored_shop
    other = make_shop()
    html = _page(client, other)
    assert "learned-3" not in html and "0.812" not in html and 'data-model-kind="rules"' in html
    assert "Refunds" not in re.search(r'id="facts".*?</section>', html, re.S).group(0)
    # A token of the other shop with ?shop= naming this one still shows the other shop's page.
    response = client.get(f"/admin/risk?id_token={session_token(other.domain)}&shop={shop.domain}")
    assert "learned-3" not in response.text


def _train_form(html: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/admin/risk/train.*?</form>', html, re.S).group(0)
    return dict(re.findall(r'name="(id_token|request_id)" value="([^"]*)"', form))


def _requests(db, shop) -> tuple[int, int]:
    db.expire_all()
    outbox = db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.task_name == "risk.train_shop", OutboxMessage.args == [shop.id]))
    events = db.scalar(select(func.count()).select_from(EvidenceEvent).where(
        EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "risk.training_requested"))
    return outbox, events


def test_retrain_is_enqueued_once_per_click_and_recorded(client, db, scored_shop):
    shop, _ = scored_shop
    form = _train_form(_page(client, shop))
    first = client.post("/admin/risk/train", data=form, follow_redirects=False)
    assert first.status_code == 303 and "Retraining+requested" in first.headers["location"]
    # The same form sent again (a double click, a resend after a timeout) takes nothing more.
    again = client.post("/admin/risk/train", data=form, follow_redirects=False)
    assert again.status_code == 303 and "already+requested" in again.headers["location"]
    assert _requests(db, shop) == (1, 1)
    assert "Retraining requested" in _page(client, shop) and "waiting for it to finish" in _page(client, shop)
    # A new page, a new click: a second training.
    client.post("/admin/risk/train", data=_train_form(_page(client, shop)), follow_redirects=False)
    assert _requests(db, shop) == (2, 2)


def test_concurrent_posts_of_one_click_enqueue_once(app, db, scored_shop):
    shop, _ = scored_shop
    with TestClient(app) as client:
        form = _train_form(_page(client, shop))
    answers = []

    def post():
        with TestClient(app) as own:
            answers.append(own.post("/admin/risk/train", data=form, follow_redirects=False).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [303] * 4
    assert _requests(db, shop) == (1, 1)


def test_retrain_refuses_a_forged_or_foreign_request(client, db, scored_shop, make_shop):
    shop, _ = scored_shop
    bad = client.post("/admin/risk/train", data={"id_token": session_token(shop.domain), "request_id": "x"},
                      follow_redirects=False)
    assert bad.status_code == 400 and "request id" in bad.text
    no_token = client.post("/admin/risk/train", data={"request_id": "a" * 32}, follow_redirects=False)
    assert no_token.status_code == 401
    assert _requests(db, shop) == (0, 0)


def test_the_outcome_of_the_last_click_is_shown(client, db, scored_shop):
    from app.evidence import service as evidence

    shop, _ = scored_shop
    client.post("/admin/risk/train", data=_train_form(_page(client, shop)), follow_redirects=False)
    session = get_sessionmaker()()
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="risk.training_skipped", source="dropguard",
                    data={"reason": "12 refunded or disputed orders older than 60 days; a model needs 50",
                          "mature_orders": 300, "positives": 12})
    session.commit()
    session.close()
    html = _page(client, shop)
    assert "not enough outcomes yet (12 refunded or disputed orders" in html


def _panel_html(db, shop, order, locale="en") -> str:
    found = dict((p.key, (p, c)) for p, c in panels.order_panels(db, shop, order))
    if "risk" not in found:
        return ""
    panel, context = found["risk"]
    template = environment().get_template(panel.template)
    return template.render(panel=context, locale=locale, nav_query="id_token=x")


def test_order_card_shows_level_probability_reasons_and_actions(db, scored_shop):
    shop, orders = scored_shop
    html = _panel_html(db, shop, orders[0])
    assert 'data-risk-level="high"' in html and "61% chance of a refund or chargeback" in html
    reasons = re.findall(r"<li>([^<]*)</li>", re.search(r"data-risk-reasons>(.*?)</ul>", html, re.S).group(1))
    assert reasons == ["The shipping address is a parcel forwarder", "This customer was refunded on 2 earlier order(s)"]
    actions = re.findall(r"<li>([^<]*)</li>", re.search(r"data-risk-actions>(.*?)</ul>", html, re.S).group(1))
    assert actions[:2] == ["Confirm the shipping address with the customer before sending",
                           "Cancel and refund before the supplier is paid, if it cannot be verified"]
    assert "A returning customer" in html and "rules-3" in html
    french = _panel_html(db, shop, orders[0], "fr")
    assert "61\u202f% de risque" in french and "Élevé" in french
    assert FRENCH_FORWARDER in french


def test_no_card_for_an_unscored_order_or_another_shops(db, scored_shop, make_shop):
    shop, orders = scored_shop
    other = make_shop()
    order, _ = apply_snapshot(db, other, "orders/create", order_payload(number=1001))
    db.commit()
    assert _panel_html(db, other, order) == ""
    # The builder reads the score by this shop only: the other shop's order id under this shop is nothing.
    assert risk_pages._order_panel(db, other, orders[0]) is None
