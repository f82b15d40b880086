"""The settings page: defaults, a validated save with its evidence diff, errors, and the CSRF walls."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.evidence.models import EvidenceEvent
from app.shops.models import Shop
from tests.factories import session_token

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _form(**overrides) -> dict:
    form = {
        "languages": ["en", "fr", "es", "de"],
        "quiet_hours_enabled": "on",
        "quiet_start_hour": "21",
        "quiet_end_hour": "8",
        "sla_confirm_hours": "24",
        "sla_ship_days": "5",
        "sla_tracking_days": "7",
        "auto_order": "on",
        "risk_score": "70",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def _changes(db, shop) -> list[EvidenceEvent]:
    db.expire_all()
    return list(
        db.scalars(
            select(EvidenceEvent).where(
                EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "shop.settings_changed"
            )
        )
    )


def _stored(db, shop) -> dict:
    db.expire_all()
    return db.get(Shop, shop.id).settings


def test_shows_defaults_in_the_shell_with_navigation(client, shop):
    token = session_token(shop.domain)
    response = client.get(f"/admin/settings?id_token={token}&shop={shop.domain}")
    assert response.status_code == 200, response.text
    html = response.text
    # Settings is the active item of the Settings group, whose secondary menu holds Privacy too.
    assert 'class="subtab active" aria-current="page" href="/admin/settings' in html
    assert re.search(r'<summary class="tab active" data-group="settings">Settings', html)
    groups = re.findall(r'data-group="([a-z]+)"', html)
    assert groups[0] == "orders" and groups[-1] == "settings"
    subtabs = re.findall(r'class="subtab[^"]*"[^>]*>([^<]+)</a>', html)
    assert subtabs == ["Privacy", "Settings"]
    assert "<ui-nav-menu>" in html and "app-bridge.js" in html
    # The deployment's SLA defaults, the ones Supplier health applies.
    assert 'name="sla_ship_days" value="5"' in html and 'name="sla_tracking_days" value="7"' in html
    assert re.search(r'name="languages" value="de" checked', html)
    assert f'<input type="hidden" name="id_token" value="{token}">' in html
    assert response.headers["content-security-policy"].startswith("frame-ancestors")
    assert response.headers["referrer-policy"] == "same-origin"


def test_save_validates_stores_records_a_diff_and_keeps_other_keys(client, db, shop):
    shop.settings = {"resolutions": {"max_auto_refund": "80.00"}}
    db.commit()
    token = session_token(shop.domain)

    response = client.post(
        "/admin/settings",
        data=_form(
            id_token=token,
            sla_tracking_days="6",
            languages=["fr", "en"],
            auto_order="on",
            hold_above_risk="on",
            risk_score="85",
            sla_ship_days="2.5",
            quiet_hours_enabled=None,
        ),
        follow_redirects=False,
    )

    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/admin/settings" and parse_qs(location.query)["saved"] == ["1"]
    stored = _stored(db, shop)
    assert stored["resolutions"] == {"max_auto_refund": "80.00"}, "other domains' keys are kept"
    assert stored["supplier_sla"]["tracking_days"] == 6
    assert "policies" not in stored, "a section the form does not show is not written"
    assert stored["notifications"]["languages"] == ["en", "fr"]
    assert stored["notifications"]["quiet_hours"]["enabled"] is False
    assert stored["ordering"] == {"policy": "review", "risk_threshold": 0.85}
    assert stored["supplier_sla"]["ship_days"] == 2.5
    [event] = _changes(db, shop)
    assert event.data["changes"]["supplier_sla.tracking_days"] == {"from": 7, "to": 6}
    assert event.data["changes"]["ordering.policy"] == {"from": "auto", "to": "review"}
    assert "supplier_sla.confirm_hours" not in event.data["changes"]
    page = client.get(response.headers["location"])
    assert "Settings saved" in page.text and 'name="sla_tracking_days" value="6"' in page.text

    # Saving the same values again changes nothing and records nothing.
    client.post(
        "/admin/settings",
        data=_form(
            id_token=token,
            sla_tracking_days="6",
            languages=["fr", "en"],
            hold_above_risk="on",
            risk_score="85",
            sla_ship_days="2.5",
            quiet_hours_enabled=None,
        ),
    )
    assert len(_changes(db, shop)) == 1


def test_auto_order_off_means_manual(client, db, shop):
    client.post("/admin/settings", data=_form(id_token=session_token(shop.domain), auto_order=None))
    assert _stored(db, shop)["ordering"]["policy"] == "manual"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sla_ship_days", "999", "Must be 60 or less."),
        ("quiet_end_hour", "", "Must be a whole number."),
        ("languages", [], "Choose at least one."),
        ("languages", ["en", "xx"], "Choose one of the options."),
        ("risk_score", "abc", "Must be a number."),
        ("risk_score", "150", "Must be 100 or less."),
        ("sla_confirm_hours", "0", "Must be more than 0."),
        ("quiet_start_hour", "24", "Must be 23 or less."),
        ("dashboard_language", "de", "Choose one of the options."),
    ],
)
def test_invalid_input_is_shown_back_and_nothing_is_saved(client, db, shop, field, value, message):
    response = client.post(
        "/admin/settings", data=_form(id_token=session_token(shop.domain), **{field: value})
    )
    assert response.status_code == 422, response.text
    assert "Nothing was saved" in response.text and message in response.text
    assert f'href="#{field}"' in response.text
    assert _stored(db, shop) == {} and _changes(db, shop) == []


def test_the_token_must_be_in_the_form_or_header_not_the_url(client, db, shop):
    token = session_token(shop.domain)
    assert client.post(f"/admin/settings?id_token={token}", data=_form()).status_code == 401
    ok = client.post(
        "/admin/settings",
        data=_form(sla_ship_days="4"),
        headers={"Authorization": f"Bearer {token}"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert _stored(db, shop)["supplier_sla"]["ship_days"] == 4


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
def test_cross_site_posts_are_refused(client, db, shop, headers):
    response = client.post(
        "/admin/settings",
        data=_form(id_token=session_token(shop.domain), sla_ship_days="4.1"),
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "cross_site"
    assert _stored(db, shop) == {}


def test_same_origin_post_is_accepted(client, db, shop):
    response = client.post(
        "/admin/settings",
        data=_form(id_token=session_token(shop.domain), sla_ship_days="4.2"),
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
