"""Every stage's email in every language: subject, the stage's own phrase, both parts, no gaps.

A phrase missing from a language would silently fall back to English; these tests compare each
language's rendering with its own catalogue so a missing or English-only phrase fails.
"""

from __future__ import annotations

import pytest

from app.notifications import rendering, service
from app.notifications.models import Notification
from app.orders.models import Customer
from app.status.tokens import status_url
from app.templating import LOCALES, catalogue, format_money, translate
from tests.notifications.helpers import add_shipment, paid_order

# The phrase each stage must show (its intro), and a stage-specific detail phrase.
STAGE_KEYS = {
    "order_confirmed": "email.order_confirmed.intro",
    "processing": "email.processing.intro",
    "shipped": "email.shipped.intro",
    "out_for_delivery": "email.out_for_delivery.intro",
    "delivered": "email.delivered.intro",
    "delayed": "email.delayed.intro",
    "exception": "email.exception.intro",
    "resolution_update": "email.resolution_update.intro",
    "stock_choice": "email.stock_choice.intro",
}
CONTEXTS = {
    "delayed": {"reason": "stalled", "estimate_from": "2026-12-03", "estimate_to": "2026-12-09"},
    "exception": {"reason": "delivery_failed", "estimate_to": "2026-12-12", "tracking_number": "LX123456785CN"},
    "resolution_update": {"status": "approved", "remedy": "partial_refund", "amount": "12.50", "note": "Sorry!"},
    "stock_choice": {"amount": "19.95", "currency": "EUR"},
}


def _render(db, shop, order, stage, context=None):
    notification = Notification(
        shop_id=shop.id,
        order_id=order.id,
        stage=stage,
        channel="email",
        locale=order.locale,
        message_id="<x@y>",
        context=service.clean_context(context),
    )
    customer = db.get(Customer, order.customer_id)
    return rendering.render_notification(db, notification, order=order, shop=shop, customer=customer)


def test_every_stage_is_covered():
    assert set(STAGE_KEYS) == set(service.STAGES)


def test_every_language_has_every_english_phrase():
    english = set(catalogue("en"))
    for locale in LOCALES:
        missing = english - set(catalogue(locale))
        assert not missing, f"{locale} lacks {sorted(missing)}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("stage", service.STAGES)
def test_stage_renders_in_language(db, make_shop, stage, locale):
    shop = make_shop(name="Lumen & Co")
    order = paid_order(db, shop, locale=locale)
    add_shipment(db, order, tracking_number="LX123456785CN", carrier="La Poste")
    email = _render(db, shop, order, stage, CONTEXTS.get(stage))

    intro = translate(locale, STAGE_KEYS[stage], order=order.name)
    subject = translate(locale, f"email.{stage}.subject", order=order.name, shop="Lumen & Co")
    assert email.subject == subject
    for part in (email.text, email.html):
        assert intro.replace("’", "’") in part.replace("&#39;", "'")
        assert status_url(order) in part
    assert f'lang="{locale}"' in email.html
    if locale != "en":
        # Not the English wording by accident.
        assert translate("en", STAGE_KEYS[stage], order=order.name) not in email.text


@pytest.mark.parametrize("locale", LOCALES)
def test_delay_shows_the_honest_new_estimate(db, make_shop, locale):
    shop = make_shop()
    order = paid_order(db, shop, locale=locale)
    email = _render(db, shop, order, "delayed", CONTEXTS["delayed"])
    t = catalogue(locale)
    reason = t["email.delayed.reason.stalled"]
    assert reason in email.text
    month = t["months"][11]
    assert month in email.text and "3" in email.text and "9" in email.text
    assert t["email.estimate.none"] not in email.text

    without = _render(db, shop, order, "delayed", {"reason": "no_first_scan"})
    assert t["email.estimate.none"] in without.text
    assert t["email.delayed.reason.no_first_scan"] in without.text


def test_unknown_reason_reads_generic_and_unknown_keys_are_refused(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop, locale="en")
    email = _render(db, shop, order, "exception", {"reason": "weird"})
    assert "The carrier reported an exception on the parcel." in email.text
    with pytest.raises(ValueError, match="unknown notification context keys"):
        service.clean_context({"email": "a@b.c"})
    with pytest.raises(ValueError):
        service.clean_context({"estimate_to": "next week"})


def test_resolution_update_shows_remedy_amount_and_escaped_note(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop, locale="de")
    email = _render(db, shop, order, "resolution_update", {**CONTEXTS["resolution_update"], "note": "<b>sorry</b>"})
    assert "eine Teilerstattung" in email.text
    assert format_money("12.50", order.currency, "de") in email.text
    assert "&lt;b&gt;sorry&lt;/b&gt;" in email.html and "<b>sorry</b>" in email.text
