"""The customer's status page on a phone (390x844) in headless Chromium: lookup, timeline, and
reporting a problem with a photo, through the real server. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.resolutions.models import Resolution
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
    assert "/status/" in phone.url and phone.locator("h1").inner_text() == f"Commande {order.name}"
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
