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
        "refund_policy": "Reship or refund if it does not arrive.",
        "return_policy": "Returns within the window.",
        "refund_window_days": "30",
        "return_window_days": "30",
        "languages": ["en", "fr", "es", "de"],
        "quiet_hours_enabled": "on",
        "quiet_start_hour": "21",
        "quiet_end_hour": "8",
        "sla_confirm_hours": "24",
        "sla_ship_days": "3",
        "sla_tracking_days": "5",
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
    assert 'class="tab active" aria-current="page" href="/admin/settings' in html
    tabs = re.findall(r'class="tab[^"]*"[^>]*>([^<]+)</a>', html)
    # Other pages add themselves between these (app.dashboard.nav slots).
    assert tabs[0] == "Orders" and tabs[-2:] == ["Privacy", "Settings"]
    assert "<ui-nav-menu>" in html and "app-bridge.js" in html
    assert 'name="return_window_days" value="30"' in html
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
            return_window_days="45",
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
    assert stored["policies"]["return_window_days"] == 45
    assert stored["notifications"]["languages"] == ["en", "fr"]
    assert stored["notifications"]["quiet_hours"]["enabled"] is False
    assert stored["ordering"] == {"policy": "review", "risk_threshold": 0.85}
    assert stored["supplier_sla"]["ship_days"] == 2.5
    [event] = _changes(db, shop)
    assert event.data["changes"]["policies.return_window_days"] == {"from": 30, "to": 45}
    assert event.data["changes"]["ordering.policy"] == {"from": "auto", "to": "review"}
    assert "policies.refund_window_days" not in event.data["changes"]
    page = client.get(response.headers["location"])
    assert "Settings saved" in page.text and 'name="return_window_days" value="45"' in page.text

    # Saving the same values again changes nothing and records nothing.
    client.post(
        "/admin/settings",
        data=_form(
            id_token=token,
            return_window_days="45",
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
        ("return_window_days", "999", "less than or equal to 365"),
        ("refund_window_days", "", "valid integer"),
        ("languages", [], "at least 1"),
        ("languages", ["en", "xx"], "Input should be"),
        ("risk_score", "abc", "valid number"),
        ("risk_score", "150", "less than or equal to 1"),
        ("sla_confirm_hours", "0", "greater than 0"),
        ("quiet_start_hour", "24", "less than or equal to 23"),
        ("refund_policy", "x" * 4001, "at most 4000"),
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
        data=_form(return_window_days="40"),
        headers={"Authorization": f"Bearer {token}"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert _stored(db, shop)["policies"]["return_window_days"] == 40


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
def test_cross_site_posts_are_refused(client, db, shop, headers):
    response = client.post(
        "/admin/settings",
        data=_form(id_token=session_token(shop.domain), return_window_days="41"),
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "cross_site"
    assert _stored(db, shop) == {}


def test_same_origin_post_is_accepted(client, db, shop):
    response = client.post(
        "/admin/settings",
        data=_form(id_token=session_token(shop.domain), return_window_days="42"),
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
