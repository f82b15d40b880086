"""The outcome pages in headless Chromium at 390 and 1280 px: every chart drawn within the screen
with its table, no page wider than the screen, nothing fetched from outside. Shots go to
test-artifacts/ (the chosen ones are copied to docs/screenshots/)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.alerts import service
from app.alerts.payload import parse
from app.db import get_sessionmaker
from app.disputes import service as disputes
from app.evidence import digest
from app.insights import aggregates
from app.orders.models import Order
from app.shops.service import add_shop
from tests.alerts.helpers import alert_body
from tests.browser.test_dashboard_browser import CHROMIUM
from tests.factories import session_token
from tests.fixtures import ARTIFACTS
from tests.suppliers.helpers import hold_outbox, planned

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
PAGES = {"outcomes": "/admin/outcomes", "outcomes-supplier": "/admin/outcomes?by=supplier",
         "outcomes-ratios": "/admin/outcomes/ratios", "outcomes-alerts": "/admin/outcomes/alerts",
         "outcomes-digests": "/admin/outcomes/digests", "outcomes-ratios-fr": "/admin/outcomes/ratios?locale=fr"}
REASONS = ("product_not_received", "product_not_received", "fraudulent", "product_unacceptable", "general")


def _month(months_ago: int) -> datetime:
    now = datetime.now(UTC)
    year, month = now.year, now.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 10, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def history_shop():
    session = get_sessionmaker()()
    shop = add_shop(session, domain=f"shop-{uuid.uuid4().hex[:12]}.myshopify.com", access_token="shpat_x",
                    name="Lumen & Co")
    session.commit()
    # Six months of sales with a dispute ratio that climbs towards the lines.
    n = 0
    for months_ago, (orders, disputed) in enumerate([(300, 7), (320, 5), (280, 4), (260, 2), (250, 2), (240, 1)]):
        at = _month(months_ago)
        rows = [Order(shop_id=shop.id, external_id=10**12 + uuid.uuid4().int % 10**11, name=f"#{2000 + n + i}",
                      currency="USD", total_price=Decimal("29.00"), financial_status="paid", placed_at=at,
                      source_updated_at=at) for i in range(orders)]
        n += orders
        session.add_all(rows)
        session.flush()
        for i in range(disputed):
            disputes.upsert(session, shop, {
                "id": uuid.uuid4().int % 10**12, "status": ("won", "lost", "won", "needs_response")[i % 4],
                "reason": REASONS[i % len(REASONS)], "amount": "29.00", "currency": "USD",
                "order_id": rows[i].external_id, "type": "chargeback", "initiated_at": at.isoformat()})
    hold_outbox(session)
    session.commit()
    supplied = [planned(session, shop)[0] for _ in range(3)]
    for i, order in enumerate(supplied):
        disputes.upsert(session, shop, {"id": uuid.uuid4().int % 10**12, "status": ("won", "won", "lost")[i],
                                        "reason": "product_not_received", "amount": str(order.total_price),
                                        "currency": "USD", "order_id": order.external_id, "type": "chargeback"})
    hold_outbox(session)
    session.commit()
    for order_id in session.scalars(Order.__table__.select().with_only_columns(Order.id)
                                    .where(Order.shop_id == shop.id)).all()[:40]:
        aggregates.refresh_order(session, order_id)
    for order, kind, reason, code in ((supplied[0], "ethoca", "not_received", "13.1"),
                                      (supplied[1], "cdrn", "fraud", "10.4"), (supplied[2], "tc40", "fraud", "10.4"),
                                      (None, "cdrn", "not_received", "4855")):
        reference = order.name if order else "#99999"
        intake = service.record(session, parse(alert_body(shop.domain, order_reference=reference, type=kind,
                                                          reason=reason, reason_code=code)), b"{}")
        service.decide(session, intake.alert_id)
    for days in (3, 2, 1):
        digest.record_day(session, shop, date.today() - timedelta(days=days))
    hold_outbox(session)
    session.commit()
    session.expunge_all()
    yield shop
    session.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_outcome_pages_fit_and_draw_their_charts(live_server, history_shop, browser, width):
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
            assert tab.evaluate("document.documentElement.scrollWidth") <= width + 1, (name, "wider than the screen")
            figures = tab.locator("figure.chart")
            for index in range(figures.count()):
                figure = figures.nth(index)
                if figure.locator("svg").count() == 0:
                    assert figure.locator(".empty").is_visible()
                    continue
                box = figure.locator(".chart-drawing:visible svg").bounding_box()
                assert box and box["height"] > 100 and box["x"] + box["width"] <= width + 1, (name, box)
                figure.locator("summary").click()
                assert figure.locator("table.chart-table tbody tr").count() >= 1
            tab.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        assert outside == [], f"fetched from outside: {outside}"
    finally:
        context.close()
