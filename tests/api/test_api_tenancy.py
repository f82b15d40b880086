"""Tenant isolation on every merchant route: shop A's session token never reaches shop B's data.

Both shops have an order with the same name (#1001, as every new store does), so a query that
forgot the shop would answer with the wrong one rather than with nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.privacy.models import PrivacyRequest
from app.shops.models import Shop
from app.web.routers import routers
from tests.factories import order_payload, session_token
from tests.privacy.helpers import data_request_payload, deliver, new_person, spread
from tests.tracking.helpers import shipment_for as tracking_shipment_for

# The test app secret is short on purpose (it is not a real secret); PyJWT warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


# Every merchant route and how this file exercises it. A new /api or /admin route fails
# test_every_merchant_route_is_covered until a tenant-isolation case is added for it here.
COVERED_ROUTES = {
    # Home (/admin): each shop sees only its own counts, tests/dashboard/test_home_page.py.
    ("GET", "/api/orders"), ("GET", "/admin"), ("GET", "/admin/orders"), ("GET", "/admin/orders/{order_id}"),
    ("GET", "/admin/shipments"),
    ("GET", "/admin/settings"), ("POST", "/admin/settings"), ("GET", "/admin/privacy"),
    ("GET", "/admin/privacy/exports/{request_id}"),
    # Suppliers, product mapping and review: cases in tests/suppliers/test_supplier_pages.py.
    ("GET", "/admin/suppliers"), ("GET", "/admin/mapping"), ("POST", "/admin/mapping/import"),
    ("GET", "/admin/review"), ("POST", "/admin/review/{flag_id}/release"), ("POST", "/admin/review/{flag_id}/adopt"),
    ("POST", "/admin/review/{flag_id}/resend"), ("POST", "/admin/review/{flag_id}/dismiss"),
    # Supplier health and inventory: cases in tests/inventory/test_health_pages.py.
    ("GET", "/admin/suppliers/health"), ("GET", "/admin/inventory"),
    # Resolution queue and notification templates: cases in tests/resolutions/test_queue_page.py and
    # tests/notifications/test_templates_page.py.
    ("GET", "/admin/resolutions"), ("GET", "/admin/resolutions/{resolution_id}/photos/{name}"),
    ("POST", "/admin/resolutions/{resolution_id}/decide"), ("GET", "/admin/notifications"),
    ("POST", "/admin/notifications/preview"), ("POST", "/admin/notifications/templates"),
    ("POST", "/admin/resolutions/policy"), ("POST", "/admin/notifications/sms"),
    # Risk model page and retrain: cases in tests/risk/test_risk_pages.py.
    ("GET", "/admin/risk"), ("POST", "/admin/risk/train"),
    # Insights pages and the insights API: cases in tests/insights/test_insights_pages.py (the
    # classifier's own shop-scoped model: tests/insights/test_classifier.py).
    ("GET", "/admin/insights"), ("GET", "/admin/insights/refunds"), ("GET", "/admin/insights/orders"),
    ("GET", "/admin/insights/policy"), ("GET", "/admin/insights/complaints"),
    ("POST", "/admin/insights/policy/apply"), ("POST", "/admin/insights/complaints/{message_id}/correct"),
    ("GET", "/api/insights/scorecards"), ("GET", "/api/insights/trend"), ("GET", "/api/insights/analytics"),
    ("GET", "/api/insights/notification-effect"), ("GET", "/api/insights/orders"), ("GET", "/api/insights/advice"),
    ("GET", "/api/insights/messages"), ("POST", "/api/insights/advice/{recommendation_id}/apply"),
    ("POST", "/api/insights/messages/{message_id}/correction"), ("POST", "/api/classify"),
    # Disputes, outcomes, branding and the order page's proof and fixes: cases in
    # tests/api/test_tenancy_disputes_orders.py, tests/disputes/test_pages.py (list and dispute page)
    # and tests/alerts/test_outcome_pages.py (outcomes, alerts, digests pages).
    ("GET", "/api/disputes"), ("GET", "/api/disputes/{dispute_id}"), ("GET", "/api/disputes/{dispute_id}/evidence.pdf"),
    ("GET", "/api/disputes/{dispute_id}/evidence-export.json"), ("GET", "/admin/disputes"),
    ("GET", "/admin/disputes/{dispute_id}"), ("GET", "/admin/disputes/{dispute_id}/evidence.pdf"),
    ("GET", "/admin/disputes/{dispute_id}/evidence-export.json"), ("POST", "/admin/disputes/{dispute_id}/narrative"),
    ("POST", "/admin/disputes/{dispute_id}/submit"), ("GET", "/admin/outcomes"), ("GET", "/admin/outcomes/ratios"),
    ("GET", "/admin/outcomes/alerts"), ("GET", "/admin/outcomes/digests"), ("POST", "/admin/outcomes/digests/check"),
    ("GET", "/admin/notifications/branding"), ("POST", "/admin/notifications/branding"),
    ("GET", "/admin/orders/{order_id}/proof"), ("POST", "/admin/orders/{order_id}/address"),
    ("POST", "/admin/orders/{order_id}/order-now"), ("POST", "/admin/orders/{order_id}/release"),
}


@dataclass
class Tenant:
    shop: Shop
    shared: Order  # named "#1001", like the other tenant's
    own: Order  # a name only this tenant has

    @property
    def token(self) -> str:
        return session_token(self.shop.domain)


def _tenant(db, make_shop, *, total: str, own_number: int) -> Tenant:
    shop = make_shop()
    shared, _ = apply_snapshot(
        db, shop, "orders/create", dict(order_payload(number=1001, financial_status="pending"), total_price=total)
    )
    own, _ = apply_snapshot(db, shop, "orders/create", order_payload(number=own_number, financial_status="pending"))
    db.commit()
    return Tenant(shop=shop, shared=shared, own=own)


@pytest.fixture
def tenants(db, make_shop) -> tuple[Tenant, Tenant]:
    return (
        _tenant(db, make_shop, total="11.11", own_number=5551),
        _tenant(db, make_shop, total="22.22", own_number=6662),
    )


def _api_order(client, token: str, name: str, **params):
    return client.get(
        "/api/orders", params={"name": name, **params}, headers={"Authorization": f"Bearer {token}"}
    )


def test_every_merchant_route_is_covered(app):
    # The routers' own routes: FastAPI keeps included routers whole (app.routes lists them as one
    # entry each, not as their routes), so walking app.routes alone found nothing to check.
    merchant = {
        (method, route.path)
        for router in routers()
        for route in router.routes
        if isinstance(route, APIRoute) and route.path.startswith(("/api", "/admin"))
        for method in route.methods
    }
    assert ("GET", "/api/orders") in merchant, "the walk must see the routes"
    assert merchant <= COVERED_ROUTES, f"add tenant-isolation cases for {sorted(merchant - COVERED_ROUTES)}"


@pytest.mark.parametrize("direction", ["a_reads", "b_reads"])
def test_api_order_by_name_answers_with_the_callers_order_only(client, tenants, direction):
    me, other = tenants if direction == "a_reads" else tenants[::-1]

    response = _api_order(client, me.token, "#1001")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["external_id"]) == (me.shared.id, me.shared.external_id)
    assert body["total_price"] == str(me.shared.total_price)
    assert body["timeline"], "the order's evidence timeline"
    assert {event["data"]["external_id"] for event in body["timeline"]} == {me.shared.external_id}
    assert str(other.shared.external_id) not in response.text
    # The other tenant's order names are simply not found.
    assert _api_order(client, me.token, other.own.name).status_code == 404


def test_api_ignores_a_shop_named_by_the_client(client, tenants):
    mine, theirs = tenants
    for extra in ({"shop": theirs.shop.domain}, {"shop_id": str(theirs.shop.id)}):
        response = _api_order(client, mine.token, "#1001", **extra)
        assert response.json()["id"] == mine.shared.id
    response = client.get(
        "/api/orders",
        params={"name": "#1001"},
        headers={"Authorization": f"Bearer {mine.token}", "X-Shopify-Shop-Domain": theirs.shop.domain},
    )
    assert response.json()["id"] == mine.shared.id


def test_admin_list_shows_only_the_callers_orders(client, tenants):
    mine, theirs = tenants
    # ?shop= is only a hint for re-authentication; the verified token decides the shop.
    response = client.get(f"/admin/orders?id_token={mine.token}&shop={theirs.shop.domain}")
    assert response.status_code == 200, response.text
    ids = {int(i) for i in re.findall(r'data-order-id="(\d+)"', response.text)}
    assert ids == {mine.shared.id, mine.own.id}
    assert theirs.own.name not in response.text
    assert "$22.22" not in response.text


def test_admin_order_page_of_another_shop_is_not_found(client, tenants):
    mine, theirs = tenants
    own = client.get(f"/admin/orders/{mine.shared.id}?id_token={mine.token}")
    assert own.status_code == 200, own.text
    assert "$11.11" in own.text

    foreign = client.get(f"/admin/orders/{theirs.shared.id}?id_token={mine.token}")
    assert foreign.status_code == 404
    assert "$22.22" not in foreign.text
    assert str(theirs.shared.external_id) not in foreign.text
    missing = client.get(f"/admin/orders/{2**62}?id_token={mine.token}")
    assert missing.status_code == 404  # the same answer as an id that exists for someone else


def test_admin_shipments_needing_attention_lists_only_the_callers(client, db, tenants):
    mine, theirs = tenants
    alerts = {}
    for tenant in (mine, theirs):
        _, shipment = tracking_shipment_for(db, tenant.shop, number="NOT-A-NUMBER-" + tenant.shop.domain[:8])
        alerts[tenant.shop.domain] = shipment.tracking_number
    response = client.get(f"/admin/shipments?id_token={mine.token}&shop={theirs.shop.domain}")
    assert response.status_code == 200, response.text
    assert alerts[mine.shop.domain] in response.text and 'data-condition="invalid_number"' in response.text
    assert alerts[theirs.shop.domain] not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/orders?name=" + quote("#1001"), "/admin", "/admin/orders/1", "/admin/shipments", "/admin/settings",
        "/admin/privacy", "/admin/privacy/exports/1",
    ],
)
def test_merchant_routes_need_a_session_token(client, tenants, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {tenants[0].token}"}).status_code == 401


def _settings_form(token: str, ship_days: str) -> dict:
    return {
        "id_token": token, "languages": ["en"], "quiet_start_hour": "21", "quiet_end_hour": "8",
        "sla_confirm_hours": "24", "sla_ship_days": ship_days, "sla_tracking_days": "5", "auto_order": "on",
        "risk_score": "70",
    }


def test_admin_settings_read_and_write_only_the_callers_shop(client, db, tenants):
    mine, theirs = tenants
    for tenant, window in ((mine, "11"), (theirs, "22")):
        saved = client.post("/admin/settings", data=_settings_form(tenant.token, window), follow_redirects=False)
        assert saved.status_code == 303, saved.text
    # A shop named by the client (query, header) is ignored: the token decides.
    page = client.get(
        f"/admin/settings?id_token={mine.token}&shop={theirs.shop.domain}",
        headers={"X-Shopify-Shop-Domain": theirs.shop.domain},
    )
    assert 'name="sla_ship_days" value="11"' in page.text and 'value="22"' not in page.text
    client.post(f"/admin/settings?shop={theirs.shop.domain}", data=_settings_form(mine.token, "12"))
    db.expire_all()
    assert db.get(Shop, mine.shop.id).settings["supplier_sla"]["ship_days"] == 12
    assert db.get(Shop, theirs.shop.id).settings["supplier_sla"]["ship_days"] == 22


def test_admin_privacy_lists_and_downloads_only_the_callers_exports(client, db, tenants):
    mine, theirs = tenants
    exports = {}
    for tenant in (mine, theirs):
        person = new_person()
        spread(db, tenant.shop, person)
        deliver(tenant.shop, "customers/data_request", data_request_payload(tenant.shop, person))
        exports[tenant.shop.domain] = (person, db.scalar(select(PrivacyRequest.id).where(PrivacyRequest.shop_id == tenant.shop.id)))
    my_person, my_export = exports[mine.shop.domain]
    their_person, their_export = exports[theirs.shop.domain]

    page = client.get(f"/admin/privacy?id_token={mine.token}&shop={theirs.shop.domain}")
    assert f'data-request-id="{my_export}"' in page.text and f'data-request-id="{their_export}"' not in page.text

    own = client.get(f"/admin/privacy/exports/{my_export}?id_token={mine.token}")
    assert own.status_code == 200 and my_person.email in own.text and their_person.email not in own.text
    foreign = client.get(f"/admin/privacy/exports/{their_export}?id_token={mine.token}&shop={theirs.shop.domain}")
    assert foreign.status_code == 404 and their_person.email not in foreign.text
    missing = client.get(f"/admin/privacy/exports/{2**62}?id_token={mine.token}")
    assert (missing.status_code, missing.json()) == (foreign.status_code, foreign.json())
