"""Both spine emails in all four languages: subject, a localised phrase, the status link, both parts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formataddr

import pytest

from app.notifications import branding, rendering
from app.notifications.models import Notification
from app.orders.models import Customer
from app.status.tokens import status_url
from app.templating import LOCALES, format_date, format_money, translate
from tests.notifications.helpers import add_shipment, paid_order

# (subject fragment, body phrase) per stage and locale: the exact phrases customers read.
EXPECTED = {
    ("order_confirmed", "en"): ("Order {n} confirmed", "We have received your payment for order {n}"),
    ("order_confirmed", "fr"): ("Commande {n} confirmée", "Nous avons bien reçu votre paiement pour la commande {n}"),
    ("order_confirmed", "es"): ("Pedido {n} confirmado", "Hemos recibido tu pago del pedido {n}"),
    ("order_confirmed", "de"): ("Bestellung {n} bestätigt", "Wir haben Ihre Zahlung für die Bestellung {n} erhalten"),
    ("shipped", "en"): ("Your order {n} is on its way", "has been handed to the carrier"),
    ("shipped", "fr"): ("Votre commande {n} est en route", "a été remise au transporteur"),
    ("shipped", "es"): ("Tu pedido {n} está en camino", "ya se ha entregado al transportista"),
    ("shipped", "de"): ("Ihre Bestellung {n} ist unterwegs", "wurde an den Versanddienstleister übergeben"),
}
TRACK_LABEL = {"en": "Track your parcel", "fr": "Suivre votre colis", "es": "Seguir tu paquete", "de": "Sendung verfolgen"}


def _render(db, shop, order, stage):
    notification = Notification(
        shop_id=shop.id, order_id=order.id, stage=stage, channel="email", locale=order.locale, message_id="<x@y>"
    )
    customer = db.get(Customer, order.customer_id)
    return rendering.render_notification(db, notification, order=order, shop=shop, customer=customer)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("stage", ["order_confirmed", "shipped"])
def test_each_stage_renders_in_each_language(db, make_shop, stage, locale):
    shop = make_shop(name="Lumen & Co")
    order = paid_order(db, shop, locale=locale)
    if stage == "shipped":
        add_shipment(db, order)
    email = _render(db, shop, order, stage)

    subject, phrase = (p.format(n=order.name) for p in EXPECTED[(stage, locale)])
    assert subject in email.subject
    link = status_url(order)
    for part in (email.text, email.html):
        assert phrase in part
        assert link in part
        assert order.name in part
    assert f'lang="{locale}"' in email.html
    assert "Lumen &amp; Co" in email.html and "Lumen & Co" in email.text
    if stage == "shipped":
        for part in (email.text, email.html):
            assert "1Z999AA10123456784" in part and "UPS" in part
            assert TRACK_LABEL[locale] in part
        # The carrier's page in the customer's language (app/status/carrier_links.py).
        ups_locale = {"en": "en_US", "fr": "fr_FR", "es": "es_ES", "de": "de_DE"}[locale]
        assert f'href="https://www.ups.com/track?loc={ups_locale}&amp;tracknum=1Z999AA10123456784"' in email.html
    assert len(email.body_digest) == 64


def test_shipped_without_tracking_says_it_will_follow(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop, locale="fr")
    email = _render(db, shop, order, "shipped")
    assert "Le numéro de suivi apparaîtra" in email.text


def test_html_escapes_what_customers_and_suppliers_send(db, make_shop):
    shop = make_shop(name="<script>alert(1)</script>")
    order = paid_order(db, shop)
    add_shipment(db, order, carrier="<b>X</b>", tracking_url="javascript:alert(1)")
    email = _render(db, shop, order, "shipped")
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "<b>X</b>" not in email.html
    assert "javascript:" not in email.html


def test_message_headers(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop, email="grace@example.com")
    notification = Notification(
        shop_id=shop.id, order_id=order.id, stage="order_confirmed", channel="email", locale="en",
        message_id="<dg.abc@127.0.0.1>",
    )
    email = _render(db, shop, order, "order_confirmed")
    message = rendering.build_message(email, notification=notification, order=order, shop=shop, recipient="grace@example.com")
    assert message["Message-ID"] == "<dg.abc@127.0.0.1>"
    assert message["To"] == "grace@example.com"
    # From the shop, not from "Dropguard" (issue 10): its name on the operator's address.
    assert message["From"] == formataddr((branding.look(shop).name, "orders@dropguard.local"))
    assert message["Date"]
    unsubscribe = message["List-Unsubscribe"]
    assert "<mailto:orders@dropguard.local?subject=unsubscribe%20" in unsubscribe
    assert f"<{status_url(order)}/unsubscribe>" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "$1,234.50"), ("fr", "1\u202f234,50\u00a0$US"), ("es", "1.234,50\u00a0US$"), ("de", "1.234,50\u00a0$")],
)
def test_money_per_locale(locale, expected):
    assert format_money(Decimal("1234.5"), "USD", locale) == expected


def test_dates_and_fallbacks():
    moment = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
    assert format_date(moment, "de", "Europe/Berlin") == "6. März 2026"
    assert format_date(moment, "en") == "March 5, 2026"
    assert format_date(moment, "es") == "5 de marzo de 2026"
    assert format_money("1200", "JPY", "en") == "¥1,200"
    assert translate("xx", "step.paid") == "Payment confirmed"
