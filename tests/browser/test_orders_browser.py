"""The orders list and the order page in headless Chromium (Debian's package, driven by Playwright),
against the real web server: search, filter and pages of the list; the order page's cards and
timeline; a held order fixed in place (the phone edited, the store's order updated, the order sent
to its supplier). Screenshots of both pages at 390 and 1280 px go to docs/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from app.db import utcnow
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.paths import ROOT
from app.sandbox.tokens import mint_session_token
from app.suppliers import ordering
from app.suppliers.models import SupplierOrder
from tests.browser.test_dashboard_browser import CHROMIUM
from tests.notifications.helpers import add_shipment, paid_order
from tests.suppliers.e2e import live_url, store_shop

SCREENSHOTS = ROOT / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def _tab(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.route("https://cdn.shopify.com/**", lambda route: route.abort())
    return tab


def _shot(tab, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000, "a blank screenshot"
    return path


def _names(tab) -> list[str]:
    return tab.locator("tr[data-order-id] td:first-child a").all_inner_texts()


@pytest.fixture
def busy_shop(db, make_shop):
    shop = make_shop(name="Lumen & Co")
    now = utcnow()
    for i in range(55):
        order = paid_order(db, shop, number=3000 + i, email=f"client{i}@example.com", country=("FR", "US", "DE")[i % 3])
        db.execute(update(Order).where(Order.id == order.id).values(created_at=now - timedelta(hours=55 - i)))
        if i == 54:
            add_shipment(db, order, tracking_number="LX424242425CN", carrier="La Poste")
    db.commit()
    return shop


def _open(tab, base: str, shop, path: str = "/admin/orders") -> None:
    tab.goto(f"{base}{path}?id_token={mint_session_token(shop.domain)}&shop={shop.domain}")


def test_orders_list_search_filter_paginate(live_server, busy_shop, browser):
    shop = busy_shop
    for width in (1280, 390):
        tab = _tab(browser, width)
        _open(tab, live_server, shop)
        tab.wait_for_selector("h1:has-text('Orders')")
        assert len(_names(tab)) == 50 and _names(tab)[0] == "#3054"
        _shot(tab, f"orders-list-{width}")
        tab.context.close()

    tab = _tab(browser, 1280)
    _open(tab, live_server, shop)
    tab.fill("#q", "client7@example")
    tab.click("button:has-text('Filter')")
    tab.wait_for_url(re.compile(r"q=client7"))
    assert _names(tab) == ["#3007"]
    tab.fill("#q", "LX424242425CN")
    tab.click("button:has-text('Filter')")
    tab.wait_for_url(re.compile(r"q=LX424242425CN"))
    assert _names(tab) == ["#3054"]

    tab.fill("#q", "")
    tab.click("summary:has-text('More filters')")
    tab.select_option("#country", "FR")
    tab.click("button:has-text('Filter')")
    tab.wait_for_url(re.compile(r"country=FR"))
    assert _names(tab) == [f"#{3000 + i}" for i in reversed(range(0, 55, 3))]

    _open(tab, live_server, shop)
    first = _names(tab)
    tab.click("a[rel=next]")
    tab.wait_for_url(re.compile(r"after="))
    assert _names(tab) == ["#3004", "#3003", "#3002", "#3001", "#3000"]
    assert tab.locator("a[rel=next]").count() == 0
    tab.click("a[rel=prev]")
    tab.wait_for_url(re.compile(r"before="))
    assert _names(tab) == first

    _open(tab, live_server, shop, "/admin/orders")
    tab.goto(tab.url + "&status=lost&from=yesterday")
    assert tab.locator("[data-list-problems] li").all_inner_texts() == [
        "Status: “lost” is not one of the choices.", "From: “yesterday” is not a date (YYYY-MM-DD)."]
    tab.context.close()


def test_order_page_and_held_order_fix(live_server, db, browser):
    shop = store_shop(db)
    response = httpx.post(f"{live_url()}/sandbox/shopify/_control/orders", json={"shop": shop.domain, "paid": True, "order": {
        "email": "ada.lovelace@example.com",
        "customer": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada.lovelace@example.com"},
        "shipping_address": {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical Row",
                             "city": "Springfield", "province_code": "IL", "zip": "62704", "country_code": "US",
                             "phone": "555-01"},
        "line_items": [{"title": "Brass desk lamp", "sku": "LAMP-1", "price": "39.00", "quantity": 1,
                        "product_id": 7001, "variant_id": 8001}]}}, timeout=30)
    response.raise_for_status()
    store_order = response.json()["order"]
    # What the paid webhook does here (no worker in this test): the snapshot, then planning.
    order, _ = apply_snapshot(db, shop, "orders/paid", store_order)
    ordering.plan(db, order)
    db.commit()

    for width in (1280, 390):
        tab = _tab(browser, width)
        _open(tab, live_server, shop, f"/admin/orders/{order.id}")
        tab.wait_for_selector("#fix")
        assert "is not a valid number for US" in tab.inner_text("[data-hold-reasons]")
        assert tab.locator("#items").inner_text().count("Brass desk lamp") == 1
        assert "Order received from the store" in tab.inner_text("#timeline")
        _shot(tab, f"order-held-{width}")
        tab.context.close()

    tab = _tab(browser, 1280)
    _open(tab, live_server, shop, f"/admin/orders/{order.id}")
    tab.fill("#fix-phone", "12")
    tab.click("button:has-text('Save and send the order')")
    tab.wait_for_selector("#fix-phone-error")
    assert "is not a valid number for US" in tab.inner_text("#fix-phone-error")
    tab.fill("#fix-phone", "(217) 555-0123")
    tab.click("button:has-text('Save and send the order')")
    tab.wait_for_url(re.compile(r"notice=Address"))
    assert tab.locator("#fix").count() == 0
    assert tab.inner_text("[data-address-phone]") == "+12175550123"
    assert "Shipping address corrected" in tab.inner_text("#timeline")
    stored = httpx.get(f"{live_url()}/sandbox/shopify/_control/orders/{store_order['id']}", timeout=10).json()
    assert stored["order"]["shipping_address"]["phone"] == "+12175550123"
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(SupplierOrder).where(SupplierOrder.order_id == order.id)) == 1
    for width in (1280, 390):
        tab.set_viewport_size({"width": width, "height": 900})
        _shot(tab, f"order-page-{width}")

    tab.click("text=See the proof")
    tab.wait_for_selector("[data-chain-intact]")
    assert tab.get_attribute("[data-chain-intact]", "data-chain-intact") == "yes"
    tab.context.close()
