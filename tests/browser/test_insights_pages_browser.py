"""The risk and insights pages in headless Chromium: every chart is drawn (an SVG with its title
and a real size), its "show the numbers" table opens and holds the chart's figures, and no page
fetches anything from outside (no CDN: App Bridge is blocked and nothing else is asked for).
Each page is shot at 390 and 1280 px wide into test-artifacts/."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.db import get_sessionmaker, utcnow
from app.risk.models import RiskModel
from app.shops.service import add_shop
from tests.browser.test_dashboard_browser import CHROMIUM
from tests.factories import session_token
from tests.fixtures import ARTIFACTS
from tests.insights.history import History
from tests.insights.test_scorecards import _build
from tests.risk.test_risk_pages import _evaluation

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
PAGES = {
    "risk": "/admin/risk", "insights-suppliers": "/admin/insights", "insights-refunds": "/admin/insights/refunds",
    "insights-reasons": "/admin/insights/refunds?dimension=reason", "insights-orders": "/admin/insights/orders?outcome=dispute",
    "insights-policy": "/admin/insights/policy", "insights-complaints": "/admin/insights/complaints",
}


@pytest.fixture(scope="module")
def history_shop(app):
    session = get_sessionmaker()()
    shop = add_shop(session, domain=f"shop-{uuid.uuid4().hex[:12]}.myshopify.com", access_token="shpat_x",
                    name="Lumen & Co")
    session.commit()
    with TestClient(app) as client:
        h = History(session, client, shop)
        h.supplier("Alpha")
        h.supplier("Bravo")
        h.map_products([(8001, "Alpha", "10.00"), (8002, "Bravo", "25.00")])
        _build(h)
    # A retired model's evaluation for the model page (stored after the history: the rules scored it).
    at = utcnow() - timedelta(days=2)
    session.add(RiskModel(shop_id=shop.id, version="learned-1", kind="learned", status="rejected", trained_at=at,
                          data_through=at - timedelta(days=60), label_days=60, parameters={},
                          evaluation=_evaluation(0.6923, 0.1402)))
    session.commit()
    session.expunge_all()
    yield shop
    session.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_charts_are_drawn_with_their_tables(live_server, history_shop, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    outside: list[str] = []
    tab.route("https://cdn.shopify.com/**", lambda route: route.abort())
    tab.on("request", lambda request: None if request.url.startswith((live_server, "https://cdn.shopify.com", "data:"))
           else outside.append(request.url))
    try:
        for name, path in PAGES.items():
            separator = "&" if "?" in path else "?"
            tab.goto(f"{live_server}{path}{separator}id_token={session_token(history_shop.domain)}&shop={history_shop.domain}")
            tab.wait_for_selector("h1")
            figures = tab.locator("figure.chart")
            for index in range(figures.count()):
                figure = figures.nth(index)
                svg = figure.locator(".chart-drawing:visible svg")
                if figure.locator("svg").count() == 0:  # an empty chart says so instead of drawing nothing
                    assert figure.locator(".empty").is_visible()
                    continue
                box, frame = svg.bounding_box(), figure.bounding_box()
                # The drawing fills its card's width (a phone shrinks it, never crops it).
                assert box and box["width"] >= 0.85 * frame["width"] - 40 and box["height"] > 100, (name, box)
                assert box["x"] + box["width"] <= width + 1, (name, "wider than the screen")
                assert svg.locator("title").count() >= 1
                figure.locator("summary").click()
                table = figure.locator("table.chart-table")
                assert table.is_visible()
                assert table.locator("tbody tr").count() >= 1
            tab.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        assert outside == [], f"fetched from outside: {outside}"
        # The ranking's table holds the figures the chart draws (Bravo 60/240 before Alpha 40/200).
        tab.goto(f"{live_server}/admin/insights?id_token={session_token(history_shop.domain)}")
        ranking = tab.locator("#ranking figure")
        ranking.locator("summary").click()
        cells = ranking.locator("table.chart-table tbody tr").all_inner_texts()
        assert [c.split("\t") for c in cells] == [["Bravo", "25.0%"], ["Alpha", "20.0%"]]
        drawn = ranking.locator(".chart-wide svg .value").all_text_contents()
        assert "25.0%" in " ".join(drawn) and "20.0%" in " ".join(drawn)
    finally:
        context.close()
