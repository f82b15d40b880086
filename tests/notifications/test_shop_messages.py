"""Messages from the shop, not from Dropguard (issue 10): display name and reply-to from the shop's
settings, From on the operator's sending domain, logo and brand colour, the contact link, carrier
links in the customer's language, and a failed-delivery e-mail that says what to do."""

from __future__ import annotations

from email.utils import parseaddr

import pytest

from app.config import get_settings
from app.notifications import branding, rendering
from app.notifications.models import Notification
from app.orders.models import Customer
from app.status.tokens import status_url
from app.tracking import alerts
from tests.notifications.helpers import add_shipment, paid_order


def _render(db, shop, order, stage, facts=None):
    notification = Notification(shop_id=shop.id, order_id=order.id, stage=stage, channel="email",
                                locale=order.locale, message_id="<m@x>", context=facts or {})
    customer = db.get(Customer, order.customer_id)
    email = rendering.render_notification(db, notification, order=order, shop=shop, customer=customer)
    message = rendering.build_message(email, notification=notification, order=order, shop=shop,
                                      recipient="kim@example.com")
    return email, message


def test_from_the_shop_with_its_reply_to_and_look(db, make_shop, monkeypatch):
    shop = make_shop(name="Lumen")
    shop.email = "owner@lumen.example"
    db.commit()
    order = paid_order(db, shop, locale="fr")
    add_shipment(db, order)
    email, message = _render(db, shop, order, "shipped")
    assert message["From"] == "Lumen <orders@dropguard.local>"  # was: "Dropguard <…>"
    assert message["Reply-To"] == "owner@lumen.example"
    assert "Dropguard" not in email.html and "Dropguard" not in email.text

    branding.save(db, shop, branding.Branding(
        display_name="Lumen Paris", reply_to="SAV@lumen.example", logo_url="https://cdn.lumen.example/logo.png",
        colour="#AA3300"))
    db.commit()
    monkeypatch.setattr(get_settings(), "mail_sender_domain", "mail.dropguard.example")
    email, message = _render(db, shop, order, "shipped")
    name, address = parseaddr(message["From"])
    assert name == "Lumen Paris" and address.endswith("@mail.dropguard.example")
    assert address.split("@")[0] == shop.domain.split(".")[0]
    assert message["Reply-To"] == "sav@lumen.example"
    assert '<img src="https://cdn.lumen.example/logo.png" alt="Lumen Paris"' in email.html
    assert "background:#aa3300" in email.html and "border-top:4px solid #aa3300" in email.html
    contact = status_url(order) + "/contact"
    assert f'href="{contact}"' in email.html and contact in email.text
    # The carrier's page in the customer's language.
    assert "https://www.ups.com/track?loc=fr_FR&amp;tracknum=1Z999AA10123456784" in email.html


@pytest.mark.parametrize(
    ("field", "value"),
    [("reply_to", "not-an-address"), ("logo_url", "http://insecure.example/logo.png"),
     ("logo_url", "javascript:alert(1)"), ("colour", "red"), ("display_name", "Evil\r\nBcc: x@y")],
)
def test_branding_refuses_what_would_break_a_message(field, value):
    with pytest.raises(ValueError):
        branding.Branding(**{field: value})


@pytest.mark.parametrize(
    ("locale", "reason", "phrase"),
    [
        ("en", "recipient_unavailable", "The carrier left a notice: collect the parcel"),
        ("fr", "recipient_unavailable", "Le transporteur a laissé un avis de passage"),
        ("es", "pickup_missed", "El transportista dejó un aviso"),
        ("de", "recipient_unavailable", "Der Versanddienstleister hat eine Benachrichtigung hinterlassen"),
        ("en", "address_issue", "could not find the address"),
    ],
)
def test_failed_delivery_email_says_what_to_do(db, shop, locale, reason, phrase):
    order = paid_order(db, shop, locale=locale)
    shipment = add_shipment(db, order)
    shipment.status, shipment.status_reason = "delivery_failed", reason
    db.commit()
    facts = alerts.message_context("delivery_failed", shipment)
    assert facts["action"]
    email, _ = _render(db, shop, order, "exception", facts)
    nothing_to_do = {"en": "You do not need to do anything now", "fr": "Vous n’avez rien à faire",
                     "es": "No tienes que hacer nada", "de": "Sie müssen jetzt nichts tun"}[locale]
    for part in (email.text, email.html):
        assert phrase in part
        assert nothing_to_do not in part  # was: "nothing to do" even when the carrier left a notice


# --- the merchant's page ---------------------------------------------------------------------------

def _post_branding(client, shop, locale="en", **data):
    from tests.factories import session_token

    form = {"id_token": session_token(shop.domain), "colour": "#2c6ecb", **data}
    return client.post(f"/admin/notifications/branding?locale={locale}", data=form, follow_redirects=False)


def test_merchant_sets_the_look_on_its_page(db, client, make_shop):
    from tests.factories import session_token

    shop = make_shop(name="Lumen")
    page = client.get("/admin/notifications/branding", params={"id_token": session_token(shop.domain), "locale": "fr"})
    assert page.status_code == 200 and "L’apparence de vos messages" in page.text
    assert "notre entrepôt" in page.text  # the default wording shown next to each language
    saved = _post_branding(client, shop, display_name="Lumen Paris", reply_to="sav@lumen.example",
                           colour="#aa3300", warehouse_fr="notre atelier")
    assert saved.status_code == 303, saved.text
    db.refresh(shop)
    look = branding.look(shop)
    assert (look.name, look.reply_to, look.colour, look.warehouse_for("fr"), look.warehouse_for("de")) == (
        "Lumen Paris", "sav@lumen.example", "#aa3300", "notre atelier", "unserem Lager")


@pytest.mark.parametrize(("field", "value"), [("reply_to", "nope"), ("logo_url", "http://x.example/l.png"),
                                              ("warehouse_en", "our supplier"), ("colour", "blue")])
def test_bad_branding_is_refused_with_the_reason_and_nothing_saved(db, client, make_shop, field, value):
    shop = make_shop(name="Lumen")
    answer = _post_branding(client, shop, **{field: value})
    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text
    db.refresh(shop)
    assert "branding" not in (shop.settings or {})
