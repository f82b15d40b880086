"""The disputes pages in headless Chromium at 390 and 1280 px: the list and a dispute page (complete
pack, and one with missing elements) fit the screen, show the countdown and every element, and
fetch nothing from outside. Shots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.disputes.models import Dispute
from tests.browser.test_dashboard_browser import CHROMIUM
from tests.disputes.scenario import (
    DELIVERED,
    carrier_scans,
    delivered_with_partial_refund,
    dispute_payload,
    store_webhook,
)
from tests.factories import session_token
from tests.fixtures import ARTIFACTS
from tests.tracking.helpers import journey, shipment_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def test_disputes_pages_fit_phone_and_desktop(live_server, db, shop, client, post_webhook, browser):
    order, shipment, payload = delivered_with_partial_refund(db, shop, client, post_webhook)
    complete = db.scalar(select(Dispute.id).where(Dispute.external_id == str(payload["id"])))
    shipped = utcnow() - timedelta(days=4)
    other, parcel = shipment_for(db, shop, shipped_at=shipped)
    carrier_scans(client, parcel.tracking_number, journey(shipped, DELIVERED[:4]))
    missing = dispute_payload(other, reason="product_not_received", code="13.1", amount="39.80")
    assert store_webhook(post_webhook, shop, "disputes/create", missing) == "processed"
    incomplete = db.scalar(select(Dispute.id).where(Dispute.external_id == str(missing["id"])))
    pages = {"disputes-list": "/admin/disputes", "dispute-complete": f"/admin/disputes/{complete}",
             "dispute-incomplete": f"/admin/disputes/{incomplete}"}
    for width in (390, 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        tab = context.new_page()
        outside: list[str] = []
        tab.route("https://cdn.shopify.com/**", lambda route: route.abort())

        def watch(request, seen=outside) -> None:
            if not request.url.startswith((live_server, "https://cdn.shopify.com", "data:")):
                seen.append(request.url)

        tab.on("request", watch)
        try:
            for name, path in pages.items():
                tab.goto(f"{live_server}{path}?id_token={session_token(shop.domain)}&shop={shop.domain}")
                tab.wait_for_selector("h1")
                overflow = tab.evaluate("document.documentElement.scrollWidth")
                assert overflow <= width + 1, (name, width, overflow)
                if name == "disputes-list":
                    assert tab.locator("[data-countdown]").count() == 2
                else:
                    assert tab.locator("[data-element]").count() >= 7
                tab.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            assert outside == [], outside
        finally:
            context.close()
    assert tab is not None
