"""The status page's heading from one state machine (app/status/journey.py), the carrier's scans,
carrier links in the customer's language, the merchant's wording, and error pages that lead back.

Each page test names the defect it guards (issue 10): the heading stayed "Shipped – on its way"
after a failed delivery, a refund or out-for-delivery; no carrier scans; "sent to our supplier";
English carrier pages for every locale; a rate-limited lookup returned an empty form; a bad link
was a dead end.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.evidence import service as evidence
from app.notifications import branding
from app.refunds.models import Refund
from app.status import carrier_links, checkpoints, journey, tokens
from tests.notifications.helpers import add_shipment, paid_order

P = journey.Parcel
I18N = Path(__file__).resolve().parents[2] / "templates" / "i18n"


@pytest.fixture
def pages(app):
    yield TestClient(app)


# --- the state machine, as a table ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "state", "delivery", "action"),
    [
        ({"order_status": "paid"}, "processing", "processing", ""),
        ({"order_status": "supplier_ordered"}, "processing", "processing", ""),
        ({"order_status": "shipped", "parcels": [P("info_received")]}, "shipped", "shipped", ""),
        ({"order_status": "shipped", "parcels": [P("in_transit")]}, "in_transit", "in_transit", ""),
        ({"order_status": "shipped", "parcels": [P("out_for_delivery")]}, "out_for_delivery", "out_for_delivery", ""),
        ({"order_status": "shipped", "parcels": [P("delivery_failed", "recipient_unavailable")]},
         "delivery_failed", "delivery_failed", "collect_or_rearrange"),
        ({"order_status": "shipped", "parcels": [P("available_for_pickup")]}, "delivery_failed", "delivery_failed",
         "collect"),
        ({"order_status": "shipped", "parcels": [P("delivery_failed", "address_issue")]}, "delivery_failed",
         "delivery_failed", "check_address"),
        ({"order_status": "shipped", "parcels": [P("delivery_failed")]}, "delivery_failed", "delivery_failed",
         "rearrange"),
        ({"order_status": "shipped", "parcels": [P("exception", "damaged")]}, "delivery_problem", "delivery_problem",
         ""),
        ({"order_status": "delivered", "parcels": [P("delivered")]}, "delivered", "delivered", ""),
        # Several parcels: delivered only when all are; the one needing the customer speaks first.
        ({"order_status": "shipped", "parcels": [P("delivered"), P("in_transit")]}, "in_transit", "in_transit", ""),
        ({"order_status": "shipped", "parcels": [P("out_for_delivery"), P("delivery_failed", "pickup_missed")]},
         "delivery_failed", "delivery_failed", "collect_or_rearrange"),
        # A number held back (never announced) does not count: still being prepared.
        ({"order_status": "shipped", "parcels": [P("in_transit", announced=False)]}, "processing", "processing", ""),
        # Refunds: confirmed money only.
        ({"order_status": "delivered", "parcels": [P("delivered")], "refunded": Decimal("40.00")}, "refunded",
         "delivered", ""),
        ({"order_status": "shipped", "parcels": [P("in_transit")], "refunded": Decimal("5")}, "partially_refunded",
         "in_transit", ""),
        ({"order_status": "shipped", "parcels": [P("in_transit")], "refund_pending": Decimal("40")}, "in_transit",
         "in_transit", ""),
        ({"order_status": "cancelled", "refunded": Decimal("40")}, "cancelled", "processing", ""),
    ],
)
def test_one_state_machine(kwargs, state, delivery, action):
    got = journey.derive(total=Decimal("40.00"), **kwargs)
    assert (got.state, got.delivery, got.action) == (state, delivery, action)
    assert got.state in journey.STATES
    assert 0 <= got.progress < len(journey.PROGRESS)


def test_a_pending_refund_is_a_note_never_the_heading():
    got = journey.derive(order_status="delivered", total=Decimal(40), parcels=[P("delivered")],
                         refund_pending=Decimal(40))
    assert got.state == "delivered" and got.refund_pending


def test_every_customer_phrase_in_all_four_languages():
    catalogues = {code: json.loads((I18N / f"{code}.json").read_text()) for code in ("en", "fr", "es", "de")}
    keys = [f"journey.{s}.{part}" for s in journey.STATES for part in ("title", "body")]
    keys += [f"journey.action.{a}" for a in journey.ACTIONS]
    keys += [f"progress.{s}" for s in (*journey.PROGRESS, "delivery_failed", "delivery_problem")]
    keys += [f"checkpoint.{s}" for s in checkpoints._KNOWN | {"update"}]
    for code, catalogue in catalogues.items():
        assert set(catalogues["en"]) == set(catalogue), code
        missing = [key for key in keys if key not in catalogue]
        assert not missing, (code, missing)
        for key, value in catalogue.items():
            if isinstance(value, str) and (key.startswith(("journey.", "step.", "status.", "progress.", "parcel.",
                                                             "checkpoint.", "lookup.", "not_found."))):
                assert not re.search(r"supplier|fournisseur|proveedor|lieferant", value, re.I), (code, key)


# --- carrier links and places ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("carrier", "stored", "locale", "expected"),
    [
        ("UPS", "https://www.ups.com/track?loc=en_US&tracknum=1Z9", "fr", "https://www.ups.com/track?loc=fr_FR&tracknum=1Z9"),
        ("China Post", "https://t.17track.net/en#nums=LX1CN", "de", "https://t.17track.net/de#nums=LX1CN"),
        ("Some Local Post", "https://t.17track.net/en#nums=LX1CN", "es", "https://t.17track.net/es#nums=LX1CN"),
        ("La Poste", None, "fr", "https://www.laposte.fr/outils/suivre-vos-envois?code=LX1CN"),
        # A carrier without a page in the language: its English one, not a broken guess.
        ("La Poste", None, "de", "https://www.laposte.fr/outils/track-a-parcel?code=LX1CN"),
        # A carrier the table lacks keeps the supplier's link.
        ("Tiny Courier", "https://tiny.example/track/77", "fr", "https://tiny.example/track/77"),
        ("Tiny Courier", None, "fr", ""),
    ],
)
def test_carrier_links_in_the_customers_language(carrier, stored, locale, expected):
    number = "1Z9" if carrier == "UPS" else ("77" if carrier == "Tiny Courier" else "LX1CN")
    assert carrier_links.link(carrier, number, stored, locale) == expected


def test_places_read_as_places():
    assert checkpoints.place("SHENZHEN, CN", "fr") == "Shenzhen, Chine"
    assert checkpoints.place("Paris, FR", "de") == "Paris, Frankreich"
    assert checkpoints.place("US", "es") == "Estados Unidos"
    assert checkpoints.place("Hong Kong, HK", "en") == "Hong Kong"
    assert checkpoints.place("", "en") == ""


# --- the page ------------------------------------------------------------------------------------

def _scan(db, shop, order, shipment, status, at, location):
    evidence.record(db, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="tracking.scan",
                    source="17track", occurred_at=at,
                    data={"shipment_id": shipment.id, "tracking_number": shipment.tracking_number,
                          "provider": "17track", "time": at.isoformat(), "raw_status": "x", "status": status},
                    personal={"location": location, "description": "包裹已到达"})


def _with_parcel(db, shop, status, reason=None, **kwargs):
    order = paid_order(db, shop, **kwargs)
    shipment = add_shipment(db, order)
    shipment.status, shipment.status_reason = status, reason
    order.status = "delivered" if status == "delivered" else "shipped"
    db.commit()
    return order, shipment


def _heading(html: str) -> str:
    return re.search(r'<h1 id="order-heading"[^>]*>(.*?)</h1>', html, re.S).group(1).strip()


def test_failed_delivery_heading_says_what_to_do(db, shop, pages):
    order, _ = _with_parcel(db, shop, "delivery_failed", "recipient_unavailable")
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert _heading(html) == "Delivery attempt failed"  # was: "Shipped – on its way"
    assert 'id="what-to-do"' in html and "The carrier left a notice: collect the parcel" in html


@pytest.mark.parametrize(("locale", "heading"), [("en", "Out for delivery today"), ("fr", "En cours de livraison aujourd’hui"),
                                                 ("es", "En reparto hoy"), ("de", "Heute in Zustellung")])
def test_out_for_delivery_heading(db, shop, pages, locale, heading):
    order, _ = _with_parcel(db, shop, "out_for_delivery", locale=locale)
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert _heading(html) == heading
    assert 'data-progress="3"' in html


def _refund(db, shop, order, amount, status):
    db.add(Refund(shop_id=shop.id, order_id=order.id, external_id=str(uuid.uuid4().int % 10**12), status=status,
                  amount=Decimal(amount), currency=order.currency, reason="not_received", issued_by="store",
                  refunded_at=datetime.now(UTC) if status == "confirmed" else None))
    db.commit()


def test_refund_heading_only_once_the_store_confirmed_it(db, shop, pages):
    order, _ = _with_parcel(db, shop, "delivered")
    _refund(db, shop, order, order.total_price, "issued")
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert _heading(html) == "Delivered", "a refund pending is not a refund"
    assert 'id="refund-pending"' in html
    _refund(db, shop, order, "1.00", "confirmed")
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert _heading(html) == "Partially refunded"
    assert "Refund of $1.00 confirmed" in html and "Parcel: Delivered" in html


def test_checkpoints_translated_with_place_and_time(db, shop, pages):
    order, shipment = _with_parcel(db, shop, "in_transit", locale="fr")
    now = datetime.now(UTC)
    _scan(db, shop, order, shipment, "info_received", now - timedelta(days=3), "SHENZHEN, CN")
    _scan(db, shop, order, shipment, "in_transit", now - timedelta(days=1), "Roissy, FR")
    db.commit()
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert _heading(html) == "En route"
    cps = re.findall(r'<li class="cp-(\w+)"><span class="label">(.*?)</span><span class="place">(.*?)</span>', html)
    assert cps == [("in_transit", "En transit", "Roissy, France"),
                   ("info_received", "Étiquette créée, en attente du transporteur", "Shenzhen, Chine")]
    assert "包裹" not in html, "the carrier's own words are not shown"
    assert "https://www.ups.com/track?loc=fr_FR" in html


def test_merchant_names_the_warehouse_and_never_reads_supplier(db, shop, pages):
    order = paid_order(db, shop, locale="es")
    evidence.record(db, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="supplier_order.placed",
                    source="supplier", data={"external_id": "X"})
    db.commit()
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert "Enviado a nuestro almacén" in html and "proveedor" not in html
    branding.save(db, shop, branding.Branding(warehouse={"es": "nuestro taller de Valencia"}, colour="#aa3300"))
    db.commit()
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert "Enviado a nuestro taller de Valencia" in html and "--brand:#aa3300" in html
    with pytest.raises(ValueError):
        branding.Branding(warehouse={"en": "our supplier in Shenzhen"})


def test_held_tracking_number_is_not_shown(db, shop, pages):
    order, shipment = _with_parcel(db, shop, "in_transit")
    shipment.flags = ["awaiting_recognition"]
    db.commit()
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    assert _heading(html) == "We are preparing your order"
    assert shipment.tracking_number not in html


def test_rate_limited_lookup_keeps_the_form_and_says_when(app, monkeypatch):
    from app.config import get_settings

    monkeypatch.setattr(get_settings(), "status_lookup_per_ip", 1)
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"
    with TestClient(app, client=(address, 40000)) as visitor:
        visitor.post("/status/lookup", data={"order": "#1", "email": "a@b.co"})
        answer = visitor.post("/status/lookup?lang=de", data={"order": "#4242", "email": "kim@example.com"})
    assert answer.status_code == 429
    assert "Zu viele Versuche" in answer.text and re.search(r"in \d+ Min\. erneut", answer.text)
    assert 'value="#4242"' in answer.text and 'value="kim@example.com"' in answer.text


@pytest.mark.parametrize("path", ["/status/not-a-token", "/status/not-a-token/contact/extra/path",
                                  "/status/x?lang=" + "x" * 40])
def test_every_error_page_leads_back_to_the_lookup(pages, path):
    response = pages.get(path, headers={"Accept-Language": "es-ES"})
    assert response.status_code in (404, 422)
    assert 'id="back-to-lookup" href="/status?lang=es"' in response.text
    assert "text/html" in response.headers["content-type"]


def test_a_malformed_post_is_a_page_too(pages):
    response = pages.post("/status/lookup?lang=" + "x" * 40, data={"order": "#1", "email": "a@b.co"},
                          headers={"Accept-Language": "de-DE"})
    assert response.status_code == 422
    assert 'id="back-to-lookup" href="/status?lang=de"' in response.text
