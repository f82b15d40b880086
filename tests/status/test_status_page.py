"""The customer's order-status page: timeline from the ledger, masked address, views recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.evidence import service as evidence
from app.notifications import service as notifications
from app.notifications.models import Notification
from app.status import tokens
from app.status.service import VIEWED
from tests.notifications.helpers import add_shipment, events, paid_order, schedule_held


@pytest.fixture
def pages(app) -> Iterator[TestClient]:
    # The pages need no lifespan (relay, sandbox mail catcher): a plain client is enough.
    yield TestClient(app)


def _record(db, shop, order, kind, data, source="supplier"):
    evidence.record(db, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind=kind, source=source, data=data)


def _shipped_order(db, shop, **kwargs):
    order = paid_order(db, shop, **kwargs)
    _record(db, shop, order, "supplier_order.attempt", {"attempt": 1})
    _record(db, shop, order, "supplier_order.placed", {"external_id": "SUP-1"})
    _record(db, shop, order, "supplier_order.confirmed", {"external_id": "SUP-1"})
    _record(db, shop, order, "notification.sent", {"stage": "order_confirmed"}, source="dropguard")
    shipment = add_shipment(db, order)
    _record(db, shop, order, "supplier_order.shipped", {"tracking_number": shipment.tracking_number})
    order.status = "shipped"
    db.commit()
    return order


def test_page_shows_the_timeline_and_masks_the_address(db, shop, pages):
    order = _shipped_order(db, shop)
    response = pages.get(f"/status/{tokens.token_for(order)}")
    assert response.status_code == 200, response.text
    html = response.text
    assert f"Order {order.name}" in html
    assert 'data-status="shipped">Shipped</h1>' in html
    steps = [
        "Order received",
        "Payment confirmed",
        "Sent to our warehouse",
        "Being prepared at our warehouse",
        "Order confirmation emailed to you",
        "Shipped with UPS",
    ]
    positions = [html.index(step) for step in steps]
    assert positions == sorted(positions), "steps are in time order"
    assert html.count("Shipped with UPS") == 1, "the shipment is shown once, from its row"
    assert "Tracking number 1Z999AA10123456784" in html
    assert 'href="https://www.ups.com/track?loc=en_US&amp;tracknum=1Z999AA10123456784" rel="noopener noreferrer"' in html
    assert "supplier" not in html.lower()
    assert "Springfield, United States" in html
    for secret in ("12 Analytical Row", "62704", "Lovelace", "+12175550123", "ada@example.com"):
        assert secret not in html
    assert "attempt" not in html.lower()
    assert "<script" not in html and "https://" not in html.replace("https://www.ups.com", "")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("locale", "phrases"),
    [
        ("fr", ["Paiement confirmé", "Expédiée avec UPS", "Springfield, États-Unis", "Commande #"]),
        ("es", ["Pago confirmado", "Enviado con UPS", "Springfield, Estados Unidos", "Pedido #"]),
        ("de", ["Zahlung bestätigt", "Versandt mit UPS", "Springfield, Vereinigte Staaten", "Bestellung #"]),
    ],
)
def test_page_speaks_the_customer_language(db, shop, pages, locale, phrases):
    order = _shipped_order(db, shop, locale=locale)
    html = pages.get(f"/status/{tokens.token_for(order)}").text
    for phrase in phrases:
        assert phrase in html
    assert f'<html lang="{locale}">' in html


def test_language_can_be_switched(db, shop, pages):
    order = paid_order(db, shop, locale="en")
    html = pages.get(f"/status/{tokens.token_for(order)}?lang=de").text
    assert "Zahlung bestätigt" in html and "Als Nächstes: der Versand" in html


def test_each_view_is_evidence(db, shop, pages):
    order = paid_order(db, shop)
    token = tokens.token_for(order)
    pages.get(f"/status/{token}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Test"})
    pages.get(f"/status/{token}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Test"})  # reload: same view
    pages.get(f"/status/{token}", headers={"User-Agent": "Other/2.0"})
    views = events(order.id, VIEWED)  # read on a fresh connection: the GET committed
    assert len(views) == 2
    assert views[0].personal == {"ip": "testclient", "user_agent": "Mozilla/5.0 (iPhone) Test"}
    assert views[0].data == {"page": "status", "locale": "en", "order_status": "paid"}
    assert token not in str(views[0].data)


@pytest.mark.parametrize("kind", ["tampered", "garbage", "missing_order"])
def test_bad_links_get_a_helpful_404(db, shop, pages, kind):
    order = paid_order(db, shop)
    token = tokens.token_for(order)
    bad = {
        "tampered": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "garbage": "not-a-token",
        "missing_order": tokens.make_token(order.id + 10_000_000, shop.id),
    }[kind]
    response = pages.get(f"/status/{bad}", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert response.status_code == 404
    assert "Nous n’avons pas trouvé cette commande" in response.text
    assert order.name not in response.text
    assert events(order.id, VIEWED) == []


def test_a_token_cannot_reach_another_shops_order(db, make_shop, pages):
    mine, theirs = make_shop(), make_shop()
    their_order = paid_order(db, theirs)
    forged = tokens.make_token(their_order.id, mine.id)  # validly signed, but names the wrong shop
    assert pages.get(f"/status/{forged}").status_code == 404


def test_unsubscribe_asks_on_get_and_acts_on_post(db, shop, pages):
    order = paid_order(db, shop, email="ann@example.com")
    notification = schedule_held(db, order)
    token = tokens.token_for(order)
    form = pages.get(f"/status/{token}/unsubscribe")
    assert form.status_code == 200 and "Stop emails about order" in form.text
    assert events(order.id, notifications.UNSUBSCRIBED) == []
    done = pages.post(f"/status/{token}/unsubscribe", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "we will not email you about order" in done.text
    recorded = events(order.id, notifications.UNSUBSCRIBED)
    assert len(recorded) == 1 and recorded[0].personal["ip"] == "testclient"
    db.expire_all()
    assert db.scalar(select(Notification.status).where(Notification.id == notification.id)) == "skipped"
    assert "Email updates for this order are turned off." in pages.get(f"/status/{token}").text
    tampered = token[:-1] + ("B" if token.endswith("A") else "A")
    assert pages.post(f"/status/{tampered}/unsubscribe").status_code == 404
