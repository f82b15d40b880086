"""The dashboard's frame in headless Chromium: Home, the grouped navigation at 1024/1280/1440 px
(nothing falls off the bar; every page is in its group's menu), the phone menu at 390 px, the
keyboard's skip link, and the dashboard in French. Screenshots of Home, Settings and a restyled page
at 390 and 1280 px go to docs/screenshots/ (the ones the README shows) and test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.suppliers.models import Supplier
from app.suppliers.tables import OrderFlag
from app.web import nav
from app.web.routers import routers
from tests.browser.test_dashboard_browser import CHROMIUM
from tests.factories import session_token
from tests.fixtures import ARTIFACTS
from tests.notifications.helpers import paid_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _tab(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.route("https://cdn.shopify.com/**", lambda route: route.abort())
    return context, tab


@pytest.fixture
def busy_shop(db, make_shop):
    """A shop part-way through setup, with a held order waiting."""
    shop = make_shop(name="Lumen & Co")
    db.add(Supplier(shop_id=shop.id, name="Alpha Supply", protocol="generic", settings={"base_url": "http://alpha"}))
    order = paid_order(db, shop, number=990001)
    db.add(OrderFlag(shop_id=shop.id, order_id=order.id, kind="review", reason="risk above threshold", data={}))
    db.commit()
    return shop


def _url(live_server, shop, path: str, **params) -> str:
    query = "&".join([f"id_token={session_token(shop.domain)}", f"shop={shop.domain}",
                      *(f"{k}={v}" for k, v in params.items())])
    return f"{live_server}{path}?{query}"


def _no_sideways_scroll(tab, width: int) -> None:
    overflow = tab.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page scrolls sideways ({overflow} px > {width} px)"


def test_home_shows_what_needs_you_and_the_setup_guide(live_server, busy_shop, browser):
    context, tab = _tab(browser, 1280)
    try:
        tab.goto(_url(live_server, busy_shop, "/admin"))
        tab.wait_for_selector("h1:has-text('Home')")
        item = tab.locator("[data-attention=held_orders]")
        assert item.is_visible() and "1 held order" in item.inner_text()
        assert tab.locator("[data-step=supplier][data-done=yes]").is_visible()
        assert tab.locator("[data-step=policy][data-done=no] a.button").is_visible()
        assert "2 of 5 steps done" in tab.locator("#setup").inner_text()
        item.locator("a").click()
        tab.wait_for_selector("h1:has-text('Review')")
        assert "/admin/review" in tab.url and "id_token=" in tab.url
    finally:
        context.close()


@pytest.mark.parametrize("width", [1024, 1280, 1440])
def test_every_nav_item_fits_at_desktop_widths(live_server, busy_shop, browser, width):
    routers()
    every = {item.path for item in nav.items()}
    context, tab = _tab(browser, width)
    try:
        tab.goto(_url(live_server, busy_shop, "/admin/settings"))
        tab.wait_for_selector("h1:has-text('Settings')")
        _no_sideways_scroll(tab, width)
        assert not tab.locator(".phone-menu").is_visible()
        found: set[str] = set()
        groups = tab.locator("nav.tabs summary[data-group]")
        assert groups.count() == len(nav.groups())
        for index in range(groups.count()):
            group = groups.nth(index)
            box = group.bounding_box()
            assert group.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, index, box)
            group.click()
            links = tab.locator("details[open] .menu-list a.menu-item")
            for number in range(links.count()):
                link = links.nth(number)
                link_box = link.bounding_box()
                assert link.is_visible() and link_box["x"] + link_box["width"] <= width, (width, link.inner_text())
                found.add(link.get_attribute("href").split("?")[0])
            tab.keyboard.press("Escape")
            assert tab.locator("details[open]").count() == 0
        assert found == every, f"not reachable from the bar: {sorted(every - found)}"
        # The shop's name stays on the bar too.
        name = tab.locator(".shop-name").bounding_box()
        assert name["x"] + name["width"] <= width
        # The Settings group's pages are its secondary menu.
        assert tab.locator(".subnav a").all_inner_texts() == ["Privacy", "Settings"]
        tab.screenshot(path=str(ARTIFACTS / f"nav-{width}.png"))
    finally:
        context.close()


def test_the_phone_menu_holds_every_page(live_server, busy_shop, browser):
    routers()
    context, tab = _tab(browser, 390)
    try:
        tab.goto(_url(live_server, busy_shop, "/admin"))
        tab.wait_for_selector("h1:has-text('Home')")
        _no_sideways_scroll(tab, 390)
        assert not tab.locator("nav.tabs").is_visible()
        tab.click(".phone-menu summary")
        links = tab.locator(".phone-menu .menu-list a.menu-item")
        hrefs = {links.nth(i).get_attribute("href").split("?")[0] for i in range(links.count())}
        assert hrefs == {item.path for item in nav.items()} | {"/admin"}
        last = links.nth(links.count() - 1)
        last.scroll_into_view_if_needed()
        assert last.is_visible() and last.bounding_box()["x"] + last.bounding_box()["width"] <= 390
        tab.click(".phone-menu a.menu-item[href^='/admin/settings']")
        tab.wait_for_selector("h1:has-text('Settings')")
        _no_sideways_scroll(tab, 390)
    finally:
        context.close()


def test_the_keyboard_skips_to_the_content(live_server, busy_shop, browser):
    context, tab = _tab(browser, 1280)
    try:
        tab.goto(_url(live_server, busy_shop, "/admin"))
        tab.wait_for_selector("h1")
        tab.keyboard.press("Tab")
        skip = tab.locator(".skip-link")
        assert tab.evaluate("document.activeElement.className") == "skip-link"
        assert skip.bounding_box()["y"] >= 0, "the focused skip link is on screen"
        tab.keyboard.press("Enter")
        assert tab.evaluate("document.activeElement.id") == "main"
        # Every form field of Settings has a label the screen reader reads.
        tab.goto(_url(live_server, busy_shop, "/admin/settings"))
        unlabelled = tab.evaluate("""[...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
            .filter(el => !(el.labels && el.labels.length)).map(el => el.name)""")
        assert unlabelled == []
    finally:
        context.close()


def test_the_dashboard_in_french(live_server, busy_shop, browser):
    context, tab = _tab(browser, 1280)
    try:
        tab.goto(_url(live_server, busy_shop, "/admin", locale="fr-FR"))
        tab.wait_for_selector("h1:has-text('Accueil')")
        assert tab.get_attribute("html", "lang") == "fr"
        assert "1 commande bloquée" in tab.locator("#attention").inner_text()
        tab.click("nav.tabs summary[data-group=settings]")
        tab.click("nav.tabs .menu-list >> text=Paramètres")
        tab.wait_for_selector("h1:has-text('Paramètres')")
        assert "locale=fr" in tab.url
        tab.fill("#sla_ship_days", "999")
        tab.click("button[type=submit]")
        tab.wait_for_selector(".banner.critical")
        assert "Rien n'a été enregistré" in tab.locator(".banner.critical").inner_text()
        assert "Doit être inférieur ou égal à 60" in tab.locator(".banner.critical").inner_text()
        tab.goto(_url(live_server, busy_shop, "/admin/orders/99999999", locale="fr"))
        tab.wait_for_selector("h2:has-text('Commande introuvable')")
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_screenshots_of_the_main_pages(live_server, busy_shop, browser, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, tab = _tab(browser, width)
    try:
        for name, path in (("home", "/admin"), ("settings", "/admin/settings"), ("review", "/admin/review"),
                           ("supplier-health", "/admin/suppliers/health")):
            tab.goto(_url(live_server, busy_shop, path))
            tab.wait_for_selector("h1")
            _no_sideways_scroll(tab, width)
            shot = SCREENSHOTS / f"{name}-{width}.png"
            tab.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5000, "a blank screenshot"
    finally:
        context.close()
