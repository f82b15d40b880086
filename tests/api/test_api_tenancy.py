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

from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.shops.models import Shop
from tests.factories import order_payload, session_token
from tests.tracking.helpers import shipment_for as tracking_shipment_for

# The test app secret is short on purpose (it is not a real secret); PyJWT warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


# Every merchant route and how this file exercises it. A new /api or /admin route fails
# test_every_merchant_route_is_covered until a tenant-isolation case is added for it here.
COVERED_ROUTES = {
    ("GET", "/api/orders"), ("GET", "/admin"), ("GET", "/admin/orders/{order_id}"), ("GET", "/admin/shipments"),
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
    merchant = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith(("/api", "/admin"))
        for method in route.methods
    }
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
    response = client.get(f"/admin?id_token={mine.token}&shop={theirs.shop.domain}")
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
    ["/api/orders?name=" + quote("#1001"), "/admin", "/admin/orders/1", "/admin/shipments"],
)
def test_merchant_routes_need_a_session_token(client, tenants, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {tenants[0].token}"}).status_code == 401
