"""The customer's status page in headless Chromium through the real server: lookup, timeline and
reporting a problem with a photo on a phone (390x844); then every heading of the state machine in
English, French, Spanish and German at 390 and 1280 px. Screenshots go to test-artifacts/ (a few
to docs/screenshots/)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.evidence import service as evidence
from app.refunds.models import Refund
from app.resolutions.models import Resolution
from app.status import tokens
from tests.fixtures import ARTIFACTS
from tests.notifications.helpers import add_shipment, events, paid_order
from tests.resolutions.helpers import PNG

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def phone():
    playwright_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True, locale="fr-FR")
        tab = context.new_page()
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def _shot(tab, name: str) -> None:
    path = ARTIFACTS / f"status-{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000, "a blank screenshot"


def _fits_the_screen(tab) -> None:
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"


def test_lookup_timeline_and_report_a_problem_on_a_phone(db, make_shop, live_server, phone, tmp_path):
    shop = make_shop(name="Lumen")
    order = paid_order(db, shop, locale="fr", country="FR", email="zoe@example.com")
    shipment = add_shipment(db, order, tracking_number="LX123456785CN", carrier="La Poste",
                            tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=LX123456785CN")
    # Delivered: a damaged item can only be reported once it arrived (app/resolutions/policy.py).
    shipment.status, shipment.delivered_at = "delivered", shipment.shipped_at
    db.commit()

    phone.goto(f"{live_server}/status")
    assert phone.locator("h1").inner_text() == "Où est ma commande ?"
    _fits_the_screen(phone)
    _shot(phone, "1-lookup")

    # A wrong email first: the generic answer, on the same page.
    phone.fill("#order", order.name)
    phone.fill("#email", "someone@example.com")
    phone.click("button[type=submit]")
    assert "Nous n’avons trouvé aucune commande" in phone.locator("#lookup-result").inner_text()

    phone.fill("#order", order.name.lstrip("#"))
    phone.fill("#email", "ZOE@example.com")
    phone.click("button[type=submit]")
    phone.wait_for_selector("ol.timeline")
    # The parcel was delivered: the heading follows the parcel (app/status/journey.py).
    assert "/status/" in phone.url and phone.locator("h1").inner_text() == "Livrée"
    assert f"Commande {order.name}" in phone.locator("main").inner_text()
    timeline = phone.locator("ol.timeline").inner_text()
    assert "Paiement confirmé" in timeline and "Expédiée avec La Poste" in timeline
    assert "LX123456785CN" in timeline
    assert phone.locator("a:has-text('Suivre le colis')").get_attribute("href").startswith("https://www.laposte.fr/")
    _fits_the_screen(phone)
    _shot(phone, "2-timeline")

    phone.click("#report-problem")
    phone.check("input[name=reason][value=damaged]")
    phone.fill("#message", "Le carton était écrasé.")
    photo = tmp_path / "carton.png"
    photo.write_bytes(PNG)
    phone.set_input_files("#photos", str(photo))
    _fits_the_screen(phone)
    _shot(phone, "3-report")
    phone.click("button[type=submit]")

    phone.wait_for_selector("#offer-heading")
    offers = phone.locator("fieldset.choices").inner_text()
    assert "Renvoi gratuit" in offers and "Remboursement intégral" in offers
    assert "Version des conditions" in phone.locator(".policy").inner_text()
    _shot(phone, "4-offer")
    phone.check("input[name=remedy][value=reship]")
    phone.click("#accept")
    phone.wait_for_selector("[data-resolution-status=approved]")
    _fits_the_screen(phone)
    _shot(phone, "5-accepted")

    (resolution,) = db.scalars(select(Resolution).where(Resolution.order_id == order.id)).all()
    assert resolution.remedy == "reship" and len(resolution.photos) == 1
    assert resolution.photos[0]["type"] == "image/png"
    kinds = [e.kind for e in events(order.id)]
    for kind in ("status_page.lookup", "status_page.viewed", "resolution.reported", "resolution.policy_accepted"):
        assert kind in kinds, kind


# --- every heading the state machine gives, in four languages, on a phone and a desktop -----------


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
I18N = Path(__file__).resolve().parents[2] / "templates" / "i18n"
# state -> (order status, parcel status, carrier reason, confirmed refund: None | "part" | "all")
STATE_SETUPS = {
    "processing": ("paid", None, None, None),
    "shipped": ("shipped", "info_received", None, None),
    "in_transit": ("shipped", "in_transit", None, None),
    "out_for_delivery": ("shipped", "out_for_delivery", None, None),
    "delivery_failed": ("shipped", "delivery_failed", "recipient_unavailable", None),
    "delivered": ("delivered", "delivered", None, None),
    "partially_refunded": ("delivered", "delivered", None, "part"),
    "refunded": ("delivered", "delivered", None, "all"),
    "cancelled": ("cancelled", None, None, None),
}
# The states whose screenshots are kept in docs/screenshots (small PNGs, looked at by a person).
DOCUMENTED = {("delivery_failed", "fr"), ("in_transit", "en"), ("partially_refunded", "de"), ("out_for_delivery", "es")}


def _order_in_state(db, shop, state: str, locale: str):
    order_status, parcel, reason, refund = STATE_SETUPS[state]
    order = paid_order(db, shop, locale=locale, country={"en": "GB", "fr": "FR", "es": "ES", "de": "DE"}[locale])
    evidence.record(db, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="supplier_order.placed",
                    source="supplier", data={"external_id": "S-1"})
    if parcel:
        shipment = add_shipment(db, order, tracking_number="LX123456785CN", carrier="China Post",
                                tracking_url="https://t.17track.net/en#nums=LX123456785CN")
        shipment.status, shipment.status_reason = parcel, reason
        now = datetime.now(UTC)
        journey_scans = [("info_received", "SHENZHEN, CN", 6), ("in_transit", "Hong Kong, HK", 5),
                         ("in_transit", "Liège, BE", 2)]
        if parcel in ("out_for_delivery", "delivery_failed", "delivered"):
            journey_scans.append(("out_for_delivery", "Lyon, FR", 1))
        if parcel in ("delivery_failed", "delivered"):
            journey_scans.append((parcel, "Lyon, FR", 0))
        for status, place, days in journey_scans[: 1 if parcel == "info_received" else None]:
            at = now - timedelta(days=days, hours=1)
            evidence.record(db, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="tracking.scan",
                            source="17track", occurred_at=at,
                            data={"shipment_id": shipment.id, "tracking_number": shipment.tracking_number,
                                  "provider": "17track", "time": at.isoformat(), "raw_status": "x", "status": status},
                            personal={"location": place, "description": "carrier words"})
    order.status = order_status
    if refund:
        amount = order.total_price if refund == "all" else Decimal("5.00")
        db.add(Refund(shop_id=shop.id, order_id=order.id, external_id=str(uuid.uuid4().int % 10**12),
                      status="confirmed", amount=amount, currency=order.currency, reason="damaged",
                      issued_by="store", refunded_at=datetime.now(UTC)))
    db.commit()
    return order


@pytest.fixture(scope="module")
def chromium():
    playwright_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("locale", ["en", "fr", "es", "de"])
def test_every_state_in_every_language_at_390_and_1280(db, make_shop, live_server, chromium, locale):
    phrases = json.loads((I18N / f"{locale}.json").read_text())
    shop = make_shop(name="Lumen")
    orders = {state: _order_in_state(db, shop, state, locale) for state in STATE_SETUPS}
    for width, height in ((390, 844), (1280, 900)):
        context = chromium.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                       locale=locale)
        tab = context.new_page()
        try:
            for state, order in orders.items():
                tab.goto(f"{live_server}/status/{tokens.token_for(order)}")
                heading = tab.locator("#order-heading")
                assert heading.inner_text() == phrases[f"journey.{state}.title"], (state, locale)
                assert heading.get_attribute("data-status") == state
                assert tab.locator("html").get_attribute("lang") == locale
                text = tab.locator("main").inner_text()
                assert not re.search(r"supplier|fournisseur|proveedor|lieferant", text, re.I), (state, locale)
                if state != "cancelled":
                    assert tab.locator("ol.progress li").count() == 5
                    assert tab.locator("ol.progress li[aria-current=step]").count() == 1
                if state == "delivery_failed":
                    assert phrases["journey.action.collect_or_rearrange"] in tab.locator("#what-to-do").inner_text()
                if STATE_SETUPS[state][1] and STATE_SETUPS[state][1] != "info_received":
                    assert tab.locator("ol.checkpoints li").count() >= 3
                    link = tab.locator(f"a:has-text('{phrases['status.track_parcel']}')").get_attribute("href")
                    assert link == f"https://t.17track.net/{locale}#nums=LX123456785CN"
                scroll = tab.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{state}/{locale} scrolls sideways at {width}px ({scroll}px)"
                name = f"status-{state}-{locale}-{width}.png"
                tab.screenshot(path=str(ARTIFACTS / name), full_page=True)
                if (state, locale) in DOCUMENTED:
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    tab.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        finally:
            context.close()
