"""One value per setting: every value the Settings page shows is the value the code path that
applies it uses — for a new shop (the defaults: the SLA defaults once differed between Settings and
Supplier health) and after the merchant saves new values. A field added to the form without a check
here fails `test_every_field_on_the_page_is_walked`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from app.db import get_sessionmaker
from app.notifications import quiet
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.suppliers import ordering, sla
from app.suppliers.models import Supplier
from tests.factories import session_token
from tests.notifications.helpers import paid_order, schedule_held

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _shown(client, shop: Shop) -> dict[str, object]:
    """The form's values as the page shows them (what the merchant reads)."""
    html = client.get(f"/admin/settings?id_token={session_token(shop.domain)}").text
    form = re.search(r'<form method="post" action="/admin/settings.*?</form>', html, re.S).group(0)
    shown: dict[str, object] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        kind = re.search(r'type="([^"]+)"', tag).group(1)
        value = unescape(re.search(r'value="([^"]*)"', tag).group(1))
        if name == "id_token":
            continue
        if kind == "checkbox":
            if name == "languages":
                shown.setdefault(name, [])
                if " checked" in tag:
                    shown[name].append(value)  # type: ignore[union-attr]
            else:
                shown[name] = " checked" in tag
        else:
            shown[name] = value
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        selected = re.search(r'<option value="([^"]*)" selected', body)
        shown[name] = selected.group(1) if selected else ""
    return shown


def _number(value: float) -> str:
    return f"{value:g}"


def _applied(client, shop: Shop) -> dict[str, object]:
    """What the code paths that act on each setting use now, in the form's terms."""
    session = get_sessionmaker()()
    try:
        shop = session.get(Shop, shop.id)
        supplier = session.query(Supplier).filter_by(shop_id=shop.id).first()
        policy = sla.policy_for(shop, supplier)  # what Supplier health and the breach check apply
        policy_name, threshold = ordering.policy_of(shop)  # what planning a paid order applies
        quiet_hours = shop_settings.quiet_hours(shop)  # what notifications.quiet.deferral applies
        configured = shop_settings.load(shop).notifications.quiet_hours
        written_in = [code for code in shop_settings.LANGUAGES
                      if shop_settings.customer_language(shop, code) == code]  # what scheduling a message applies
    finally:
        session.close()
    html_lang = re.search(r'<html lang="([a-z]+)">', client.get(f"/admin?id_token={session_token(shop.domain)}").text)
    return {
        "languages": written_in,
        "quiet_hours_enabled": quiet_hours is not None,
        "quiet_start_hour": str(quiet_hours[0] if quiet_hours else configured.start_hour),
        "quiet_end_hour": str(quiet_hours[1] if quiet_hours else configured.end_hour),
        "sla_confirm_hours": _number(policy.confirm_hours),
        "sla_ship_days": _number(policy.ship_days),
        "sla_tracking_days": _number(policy.tracking_days),
        "auto_order": policy_name != "manual",
        "hold_above_risk": policy_name == "review_above_risk",
        "risk_score": _number(threshold * 100),
        # The dashboard's language: the page's own <html lang> when the admin gives no ?locale=.
        "dashboard_language": html_lang.group(1) if html_lang.group(1) != (shop.locale or "en") else "",
    }


@pytest.fixture
def supplier_shop(db, make_shop) -> Shop:
    return make_shop(locale="en")


def test_every_field_on_the_page_is_walked(client, supplier_shop):
    assert set(_shown(client, supplier_shop)) == set(_applied(client, supplier_shop))


def test_a_new_shop_is_shown_the_values_the_code_applies(client, supplier_shop):
    shown, applied = _shown(client, supplier_shop), _applied(client, supplier_shop)
    assert shown == applied
    # The deployment's SLA defaults (DROPGUARD_SUPPLIER_SLA_*), not another copy of them.
    assert (shown["sla_ship_days"], shown["sla_tracking_days"]) == ("5", "7")


def test_saved_values_are_the_values_the_code_applies(client, db, supplier_shop):
    form = {
        "id_token": session_token(supplier_shop.domain), "languages": ["fr", "de"], "quiet_hours_enabled": "on",
        "quiet_start_hour": "10", "quiet_end_hour": "12", "sla_confirm_hours": "12.5", "sla_ship_days": "2",
        "sla_tracking_days": "4", "auto_order": "on", "hold_above_risk": "on", "risk_score": "55",
        "dashboard_language": "fr",
    }
    assert client.post("/admin/settings", data=form, follow_redirects=False).status_code == 303
    shown, applied = _shown(client, supplier_shop), _applied(client, supplier_shop)
    assert shown == applied
    assert shown["sla_confirm_hours"] == "12.5" and shown["languages"] == ["fr", "de"]
    assert shown["dashboard_language"] == "fr" and shown["risk_score"] == "55"

    # The paths themselves: a Spanish customer is written to in French, the shop's first language…
    db.expire_all()  # the test's session read the shop before the page saved it
    order = paid_order(db, db.get(Shop, supplier_shop.id), number=890001, locale="es")
    notification = schedule_held(db, order)
    assert notification is not None and notification.locale == "fr"
    # …and a message due inside the shop's quiet hours (10–12, customer's time) waits until 12:00.
    shop = db.get(Shop, supplier_shop.id)
    _, zone = quiet.deferral(db, order, shop)
    half_past_ten = datetime(2026, 6, 2, 10, 30, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    due, _ = quiet.deferral(db, order, shop, now=half_past_ten)
    assert due is not None and due.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == datetime(2026, 6, 2, 12, 0)
    # Quiet hours off in Settings: nothing waits.
    form.pop("quiet_hours_enabled")
    client.post("/admin/settings", data=form)
    db.expire_all()
    assert _shown(client, supplier_shop) == _applied(client, supplier_shop)
    assert quiet.deferral(db, order, db.get(Shop, supplier_shop.id))[0] is None


def test_a_suppliers_own_sla_wins_and_health_shows_it(client, db, supplier_shop):
    supplier = db.query(Supplier).filter_by(shop_id=supplier_shop.id).first()
    supplier.settings = {"sla": {"ship_days": 9}}
    db.commit()
    policy = sla.policy_for(db.get(Shop, supplier_shop.id), supplier)
    assert (policy.confirm_hours, policy.ship_days, policy.tracking_days) == (24, 9, 7)
