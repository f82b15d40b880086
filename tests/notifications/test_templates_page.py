"""Merchant templates: sandboxed, validated, previewed without sending, used for the next message."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.notifications import channels, custom, rendering
from app.notifications.models import Notification, NotificationTemplate
from app.orders.models import Customer
from app.shops.models import Shop
from tests.factories import session_token
from tests.notifications.helpers import paid_order


def _save(client, shop, **data):
    form = {"id_token": session_token(shop.domain), "stage": "shipped", "locale": "fr", **data}
    return client.post("/admin/notifications/templates", data=form, follow_redirects=False)


def test_page_lists_stages_and_shows_a_preview(client, make_shop):
    shop = make_shop(name="Lumen")
    page = client.get("/admin/notifications", params={"id_token": session_token(shop.domain), "stage": "delayed",
                                                       "locale": "de"})
    assert page.status_code == 200
    assert "Delayed · DE" in page.text
    assert "Ihr Paket braucht länger als erwartet" in page.text  # built-in German, sample order
    assert "{{ order_name }}" in page.text  # the documented variables


def test_preview_renders_a_draft_and_sends_nothing(db, client, make_shop):
    shop = make_shop(name="Lumen")
    before = db.scalar(select(func.count()).select_from(Notification))
    answer = client.post("/admin/notifications/preview", data={
        "id_token": session_token(shop.domain), "stage": "shipped", "locale": "fr",
        "subject": "{{ order_name }} est parti !", "body": "Bonjour {{ customer_name }},\n\nSuivi : {{ tracking_numbers }}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject"] == "#1042 est parti !"
    assert "Suivi : LX123456785CN" in body["text"] and "Suivi : LX123456785CN" in body["html"]
    assert "/status/SAMPLE/unsubscribe" in body["html"]  # our footer stays
    assert db.scalar(select(func.count()).select_from(Notification)) == before


@pytest.mark.parametrize(
    ("subject", "body", "reason"),
    [
        ("{{ order_name.__class__.__mro__ }}", "x", "subject"),  # sandbox refuses attribute tricks
        ("Hi", "{{ lipsum.__globals__ }}", "body"),
        ("Hi", "{{ not_a_variable }}", "body"),
        ("Hi", "{% for %}", "body"),
        ("", "", "required"),
    ],
)
def test_unsafe_or_broken_templates_are_refused(client, make_shop, subject, body, reason):
    shop = make_shop()
    preview = client.post("/admin/notifications/preview", data={
        "id_token": session_token(shop.domain), "stage": "shipped", "locale": "en", "subject": subject, "body": body})
    if reason == "required":
        assert preview.status_code == 200  # an empty draft previews the built-in wording
    else:
        assert preview.status_code == 400 and reason in preview.json()["error"]
    saved = _save(client, shop, subject=subject, body=body)
    assert saved.status_code == 303 and "Not+saved" in saved.headers["location"]


def test_saved_template_is_used_for_the_next_message(db, client, make_shop):
    shop = make_shop(name="Lumen")
    assert _save(client, shop, subject="Colis {{ order_name }} parti", body="Merci {{ customer_name }} !").status_code == 303
    order = paid_order(db, shop, locale="fr")
    notification = Notification(shop_id=shop.id, order_id=order.id, stage="shipped", channel="email",
                                locale="fr", message_id="<t@x>", context={})
    email = rendering.render_notification(db, notification, order=order, shop=shop,
                                          customer=db.get(Customer, order.customer_id))
    assert email.subject == f"Colis {order.name} parti"
    assert "Merci Ada !" in email.text and "Merci Ada !" in email.html
    assert "/unsubscribe" in email.text  # the footer is not the merchant's to remove
    # Other languages keep the built-in wording; reset brings it back here too.
    assert _save(client, shop, action="reset").status_code == 303
    assert db.scalar(select(func.count()).select_from(NotificationTemplate).where(
        NotificationTemplate.shop_id == shop.id)) == 0


def test_other_shops_cannot_read_or_change_templates(db, client, make_shop):
    shop_a, shop_b = make_shop(), make_shop()
    assert _save(client, shop_a, subject="A only", body="Secret wording of A").status_code == 303
    page_b = client.get("/admin/notifications", params={"id_token": session_token(shop_b.domain), "stage": "shipped",
                                                         "locale": "fr"})
    assert "Secret wording of A" not in page_b.text
    # B's reset touches only B's templates.
    assert _save(client, shop_b, action="reset").status_code == 303
    assert custom.override_for(db, shop_a.id, "shipped", "fr") is not None
    assert client.post("/admin/notifications/preview", data={"stage": "shipped", "locale": "fr"}).status_code == 401


def test_sms_toggle_is_per_shop(db, client, make_shop):
    shop_a, shop_b = make_shop(), make_shop()
    answer = client.post("/admin/notifications/sms", data={"id_token": session_token(shop_a.domain), "enabled": "on"},
                         follow_redirects=False)
    assert answer.status_code == 303 and "SMS+updates+on" in answer.headers["location"]
    db.expire_all()
    assert channels.sms_enabled(db.get(Shop, shop_a.id)) and not channels.sms_enabled(db.get(Shop, shop_b.id))
    client.post("/admin/notifications/sms", data={"id_token": session_token(shop_a.domain)})
    db.expire_all()
    assert not channels.sms_enabled(db.get(Shop, shop_a.id))
    assert client.post("/admin/notifications/sms", data={"enabled": "on"}).status_code == 401
