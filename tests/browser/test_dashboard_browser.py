"""The embedded dashboard in headless Chromium (Debian's package, driven by Playwright).

Opened the way a developer opens it in a plain tab: through the sandbox admin, which mints a
session token and redirects to /admin (Home); then Settings through the Settings group's menu, a
change saved, and the privacy page from the group's secondary menu.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.evidence.models import EvidenceEvent
from app.sandbox.tokens import mint_session_token
from app.shops.models import Shop
from tests.fixtures import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        # App Bridge is loaded from Shopify's CDN; offline (and outside the admin) it is not needed.
        tab.route("https://cdn.shopify.com/**", lambda route: route.abort())
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def _shot(tab, name: str) -> Path:
    path = ARTIFACTS / f"dashboard-{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000, "a blank screenshot"
    return path


def test_dashboard_opens_with_a_session_token_and_saves_settings(live_server, db, make_shop, page):
    shop = make_shop(name="Browser Test Store")

    page.goto(f"{live_server}/sandbox/shopify/{shop.domain}/admin")
    page.wait_for_selector("h1:has-text('Home')")
    assert "id_token=" in page.url
    _shot(page, "home")

    page.click("nav.tabs summary[data-group=settings]")
    page.click("nav.tabs .menu-list >> text=Settings")
    page.wait_for_selector("h1:has-text('Settings')")
    assert page.get_attribute(".subnav a.active", "href").startswith("/admin/settings")
    _shot(page, "settings")

    page.fill("#sla_ship_days", "4.5")
    page.uncheck("input[name=languages][value=de]")
    page.check("input[name=hold_above_risk]")
    page.fill("#risk_score", "85")
    page.click("button[type=submit]")
    page.wait_for_selector(".banner.success")
    assert page.input_value("#sla_ship_days") == "4.5"
    _shot(page, "settings-saved")

    db.expire_all()
    stored = db.get(Shop, shop.id).settings
    assert stored["supplier_sla"]["ship_days"] == 4.5
    assert stored["notifications"]["languages"] == ["en", "fr", "es"]
    assert stored["ordering"] == {"policy": "review", "risk_threshold": 0.85}
    changed = db.scalars(
        select(EvidenceEvent).where(
            EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "shop.settings_changed"
        )
    ).all()
    assert len(changed) == 1

    # An invalid value comes back with its reason and saves nothing.
    page.fill("#sla_ship_days", "999")
    page.click("button[type=submit]")
    page.wait_for_selector(".banner.critical")
    _shot(page, "settings-invalid")
    db.expire_all()
    assert db.get(Shop, shop.id).settings["supplier_sla"]["ship_days"] == 4.5

    page.click(".subnav >> text=Privacy")
    page.wait_for_selector("h1:has-text('Privacy')")
    _shot(page, "privacy")


def test_an_expired_session_offers_to_reopen_from_the_admin(live_server, make_shop, page):
    shop = make_shop()
    token = mint_session_token(shop.domain, ttl=-120)
    page.goto(f"{live_server}/admin/settings?id_token={token}&shop={shop.domain}")
    page.wait_for_selector("text=Open Dropguard from your store admin")
    _shot(page, "expired")
    page.click("text=Reopen from the store admin")
    page.wait_for_selector("h1:has-text('Home')")
    assert "id_token=" in page.url
