"""The Shopify emulator through the live server: REST-shaped orders, signed webhooks and retries,
Admin GraphQL shapes, errors, fulfilments, idempotency, cost and throttling."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.shops.service import add_shop
from app.webhooks.models import WebhookDelivery
from app.webhooks.signing import verify_shopify_hmac
from tests.sandbox.receiver import Receiver

SECRET = "test-api-secret"
ORDER_QUERY = """query($id: ID!) { order(id: $id) { id name fulfillmentOrders(first: 10) { nodes { id status
  lineItems(first: 50) { nodes { id remainingQuantity totalQuantity } } } }
  fulfillments(first: 20) { id status trackingInfo { company number url } } } }"""
FULFIL = """mutation($fulfillment: FulfillmentInput!) { fulfillmentCreate(fulfillment: $fulfillment) {
  fulfillment { id status trackingInfo { company number url } } userErrors { field message } } }"""
PARTIAL_ORDER = {
    "email": "ada@example.com",
    "currency": "EUR",
    "locale": "fr",
    "customer": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
    "shipping_address": {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 rue Victor Hugo",
                         "city": "Lyon", "zip": "69002", "country_code": "FR", "phone": "+33612340123"},
    "shipping_lines": [{"title": "Standard Shipping", "price": "4.99"}],
    "line_items": [
        {"title": "LED Sunset Lamp", "sku": "DG-LSL-03", "price": "24.99", "quantity": 2, "product_id": 1,
         "variant_id": 2},
        {"title": "Magnetic Phone Mount", "sku": "DG-MPM-04", "price": "14.99", "quantity": 1},
    ],
}


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


class Store:
    """One shop in the emulator, registered with a fresh token (and, optionally, its own receiver)."""

    def __init__(self, base: str, webhook_url: str | None = None, domain: str | None = None,
                 token: str | None = None) -> None:
        self.base = base
        self.domain = domain or f"sbx-{uuid.uuid4().hex[:10]}.myshopify.com"
        self.token = token or "shpat_" + uuid.uuid4().hex
        body = {"domain": self.domain, "access_token": self.token}
        if webhook_url:
            body["webhook_url"] = webhook_url + "/webhooks/shopify"
        response = httpx.post(f"{base}/sandbox/shopify/_control/shops", json=body, timeout=10)
        assert response.status_code == 201, response.text

    @property
    def graphql_url(self) -> str:
        return f"{self.base}/sandbox/shopify/{self.domain}/admin/api/2026-07/graphql.json"

    def order(self, *, paid: bool = True, **overrides) -> dict:
        response = httpx.post(
            f"{self.base}/sandbox/shopify/_control/orders",
            json={"shop": self.domain, "order": {**PARTIAL_ORDER, **overrides}, "paid": paid}, timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def graphql(self, query: str, variables: dict | None = None, *, token: str | None = None) -> httpx.Response:
        return httpx.post(
            self.graphql_url, json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token or self.token}, timeout=30,
        )

    def fulfil(self, fulfillment_order_id: str, lines: list[dict] | None = None, **extra) -> dict:
        group = {"fulfillmentOrderId": fulfillment_order_id}
        if lines is not None:
            group["fulfillmentOrderLineItems"] = lines
        variables = {"fulfillment": {"lineItemsByFulfillmentOrder": [group], "notifyCustomer": False,
                                     "trackingInfo": {"company": "UPS", "number": "1Z999AA10123456784",
                                                      "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
                                     **extra}}
        response = self.graphql(FULFIL, variables)
        assert response.status_code == 200, response.text
        return response.json()


def test_control_order_is_rest_shaped_and_webhooks_are_signed_like_shopify(live_server, receiver):
    store = Store(live_server, receiver.url)
    created = store.order()
    order = created["order"]
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert order["name"] == "#1001" and order["order_number"] == 1001 and len(str(order["id"])) >= 13
    assert order["financial_status"] == "paid" and order["fulfillment_status"] is None
    assert order["currency"] == "EUR" and order["customer_locale"] == "fr"
    assert order["subtotal_price"] == "64.97" and order["total_price"] == "69.96" and order["taxes_included"]
    assert order["shipping_address"]["country"] == "France" and order["customer"]["id"]
    assert [line["quantity"] for line in order["line_items"]] == [2, 1]
    assert all(line["admin_graphql_api_id"].startswith("gid://shopify/LineItem/") for line in order["line_items"])
    assert [w["topic"] for w in created["webhooks"]] == ["orders/create", "orders/paid"]
    assert all(w["delivered"] for w in created["webhooks"])

    received = receiver.wait_for(2)
    assert [r.header("X-Shopify-Topic") for r in received] == ["orders/create", "orders/paid"]
    for request in received:
        assert request.path == "/webhooks/shopify"
        assert verify_shopify_hmac(request.body, request.header("X-Shopify-Hmac-Sha256"), SECRET)
        assert not verify_shopify_hmac(request.body, request.header("X-Shopify-Hmac-Sha256"), "other-secret")
        assert request.header("X-Shopify-Shop-Domain") == store.domain
        assert request.header("X-Shopify-API-Version") == "2026-07"
        assert request.header("Content-Type") == "application/json"
        assert request.header("X-Shopify-Webhook-Id") and request.header("X-Shopify-Triggered-At")
        assert json.loads(request.body)["id"] == order["id"]
    assert received[0].header("X-Shopify-Event-Id") != received[1].header("X-Shopify-Event-Id")


def test_failed_webhook_is_retried_with_the_same_ids_and_bytes(live_server, receiver):
    store = Store(live_server, receiver.url)
    receiver.fail_with = [500]
    created = store.order(paid=False)
    assert created["webhooks"] == [{"topic": "orders/create", "event_id": created["webhooks"][0]["event_id"],
                                    "delivered": False}]
    first, retry = receiver.wait_for(2, timeout=10)
    assert retry.body == first.body
    for name in ("X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-Triggered-At", "X-Shopify-Hmac-Sha256"):
        assert retry.header(name) == first.header(name)


def test_orders_reach_our_ingest_as_signed_webhooks(live_server, db):
    domain, token = f"ingest-{uuid.uuid4().hex[:10]}.myshopify.com", "shpat_" + uuid.uuid4().hex
    add_shop(db, domain=domain, access_token=token)
    db.commit()
    store = Store(live_server, domain=domain, token=token)
    store.order(paid=True)
    rows = db.query(WebhookDelivery).filter_by(shop_domain=domain).all()
    assert sorted(row.topic for row in rows) == ["orders/create", "orders/paid"]
    assert all(row.shop_id is not None and row.status != "unknown_shop" for row in rows)


def test_graphql_order_query_has_shopify_shapes_and_cost(live_server):
    store = Store(live_server)
    order = store.order()["order"]
    response = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]})
    assert response.status_code == 200
    body = response.json()
    node = body["data"]["order"]
    assert node["id"] == order["admin_graphql_api_id"] and node["name"] == order["name"]
    (fulfillment_order,) = node["fulfillmentOrders"]["nodes"]
    assert fulfillment_order["id"].startswith("gid://shopify/FulfillmentOrder/")
    assert fulfillment_order["status"] == "OPEN"
    assert [(li["remainingQuantity"], li["totalQuantity"]) for li in fulfillment_order["lineItems"]["nodes"]] == [
        (2, 2), (1, 1)
    ]
    assert node["fulfillments"] == []
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] > cost["actualQueryCost"] > 0
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0
    # The unused part of the requested cost is refunded.
    assert cost["throttleStatus"]["currentlyAvailable"] >= 2000 - cost["actualQueryCost"] - 1


def test_graphql_errors_are_shopify_shaped(live_server):
    store = Store(live_server)
    other = Store(live_server)
    order = store.order()["order"]
    assert store.graphql("{ shop { name } }", token="shpat_wrong").status_code == 401
    assert "Invalid API key or access token" in store.graphql("{ shop { name } }", token="shpat_wrong").json()["errors"]
    assert store.graphql("{ shop { name } }", token=other.token).status_code == 401
    missing = httpx.post(store.graphql_url, json={"query": "{ shop { name } }"}, timeout=10)
    assert missing.status_code == 401
    unknown = httpx.post(store.graphql_url.replace(store.domain, "nobody-here.myshopify.com"),
                         json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": store.token})
    assert unknown.status_code == 404

    syntax = store.graphql("{ shop { name ")
    assert syntax.status_code == 200 and syntax.json()["errors"][0]["locations"]
    invalid = store.graphql("{ shop { nme } }").json()
    assert "nme" in invalid["errors"][0]["message"] and "data" not in invalid
    no_variable = store.graphql(ORDER_QUERY).json()
    assert "$id" in no_variable["errors"][0]["message"]
    assert httpx.post(store.graphql_url, json={}, headers={"X-Shopify-Access-Token": store.token}).status_code == 400
    assert httpx.post(store.graphql_url, content=b"{nope", headers={"X-Shopify-Access-Token": store.token}).status_code == 400

    # Another shop's order does not exist for this token.
    assert other.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"] == {"order": None}
    no_page = store.graphql("query($id: ID!) { order(id: $id) { fulfillmentOrders { nodes { id } } } }",
                            {"id": order["admin_graphql_api_id"]}).json()
    assert no_page["errors"][0]["message"] == "you must provide one of first or last"
    assert no_page["errors"][0]["path"] == ["order", "fulfillmentOrders"]
    bad_id = store.graphql(ORDER_QUERY, {"id": str(order["id"])}).json()
    assert bad_id["data"] == {"order": None} and bad_id["errors"][0]["message"] == f"Invalid global id '{order['id']}'"
    fo_query = "query($id: ID!) { fulfillmentOrder(id: $id) { id orderName status } }"
    node = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    fo_id = node["fulfillmentOrders"]["nodes"][0]["id"]
    assert store.graphql(fo_query, {"id": fo_id}).json()["data"]["fulfillmentOrder"] == {
        "id": fo_id, "orderName": order["name"], "status": "OPEN"}
    assert other.graphql(fo_query, {"id": fo_id}).json()["data"]["fulfillmentOrder"] is None
    shop = store.graphql("{ shop { myshopifyDomain currencyCode } }").json()["data"]["shop"]
    assert shop == {"myshopifyDomain": store.domain, "currencyCode": "USD"}


def test_fulfillment_create_closes_the_fulfillment_order_and_sends_webhooks(live_server, receiver):
    store = Store(live_server, receiver.url)
    order = store.order(paid=True)["order"]
    receiver.wait_for(2)
    node = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    fo = node["fulfillmentOrders"]["nodes"][0]
    first_line, second_line = fo["lineItems"]["nodes"]

    partial = store.fulfil(fo["id"], [{"id": first_line["id"], "quantity": 1}])["data"]["fulfillmentCreate"]
    assert partial["userErrors"] == [] and partial["fulfillment"]["status"] == "SUCCESS"
    assert partial["fulfillment"]["trackingInfo"] == [
        {"company": "UPS", "number": "1Z999AA10123456784", "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"}
    ]
    too_many = store.fulfil(fo["id"], [{"id": first_line["id"], "quantity": 5}])["data"]["fulfillmentCreate"]
    assert too_many["fulfillment"] is None
    assert too_many["userErrors"][0]["message"] == "Invalid fulfillment order line item quantity requested."

    rest = store.fulfil(fo["id"])["data"]["fulfillmentCreate"]
    assert rest["userErrors"] == []
    again = store.fulfil(fo["id"])["data"]["fulfillmentCreate"]
    assert again["fulfillment"] is None and "unfulfillable status= closed" in again["userErrors"][0]["message"]

    node = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    assert node["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert [li["remainingQuantity"] for li in node["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"]] == [0, 0]
    assert [f["id"] for f in node["fulfillments"]] == [partial["fulfillment"]["id"], rest["fulfillment"]["id"]]
    assert second_line["totalQuantity"] == 1

    view = httpx.get(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}", timeout=10).json()
    assert view["order"]["fulfillment_status"] == "fulfilled" and len(view["fulfillments"]) == 2
    listed = httpx.get(f"{live_server}/sandbox/shopify/_control/fulfillments", params={"shop": store.domain}).json()
    assert [f["name"] for f in listed["fulfillments"]] == [f"{order['name']}.1", f"{order['name']}.2"]
    assert listed["fulfillments"][0]["tracking_number"] == "1Z999AA10123456784"

    received = receiver.wait_for(8)
    # Each mutation's webhooks go out in order, but two mutations' batches may interleave (as on Shopify).
    topics = sorted(r.header("X-Shopify-Topic") for r in received[2:])
    assert topics == sorted(["fulfillments/create", "orders/updated", "orders/partially_fulfilled",
                             "fulfillments/create", "orders/updated", "orders/fulfilled"])
    assert all(verify_shopify_hmac(r.body, r.header("X-Shopify-Hmac-Sha256"), SECRET) for r in received)
    updates = [json.loads(r.body)["updated_at"] for r in received if r.header("X-Shopify-Topic") == "orders/updated"]
    # Each change moves updated_at strictly forward, even within one second.
    assert len(set(updates)) == 2 and min(updates) > order["updated_at"]


def test_idempotent_fulfillment_create_returns_the_first_result(live_server):
    store = Store(live_server)
    order = store.order()["order"]
    node = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    variables = {"fulfillment": {"lineItemsByFulfillmentOrder": [
        {"fulfillmentOrderId": node["fulfillmentOrders"]["nodes"][0]["id"]}
    ]}, "key": f"shipment-{uuid.uuid4()}"}
    mutation = FULFIL.replace("mutation($fulfillment: FulfillmentInput!)",
                              "mutation($fulfillment: FulfillmentInput!, $key: String!)").replace(
        "fulfillmentCreate(fulfillment: $fulfillment)", "fulfillmentCreate(fulfillment: $fulfillment) @idempotent(key: $key)"
    )
    first = store.graphql(mutation, variables).json()["data"]["fulfillmentCreate"]
    second = store.graphql(mutation, variables).json()["data"]["fulfillmentCreate"]
    assert first["userErrors"] == [] and second == first
    listed = httpx.get(f"{live_server}/sandbox/shopify/_control/fulfillments", params={"shop": store.domain}).json()
    assert listed["count"] == 1


def test_tracking_updates_and_carrier_events_on_a_fulfillment(live_server, receiver):
    store = Store(live_server, receiver.url)
    order = store.order(paid=False)["order"]
    node = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    fulfillment_id = store.fulfil(node["fulfillmentOrders"]["nodes"][0]["id"])["data"]["fulfillmentCreate"][
        "fulfillment"]["id"]
    receiver.wait_for(4)
    update = """mutation($id: ID!, $tracking: FulfillmentTrackingInput!) {
      fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: true) {
        fulfillment { id trackingInfo { company number url } } userErrors { field message } } }"""
    tracking = {"company": "China Post", "number": "LX473124829CN", "url": "https://t.17track.net/en#nums=LX473124829CN"}
    updated = store.graphql(update, {"id": fulfillment_id, "tracking": tracking}).json()["data"]
    assert updated["fulfillmentTrackingInfoUpdate"] == {
        "fulfillment": {"id": fulfillment_id, "trackingInfo": [tracking]}, "userErrors": []}
    missing = store.graphql(update, {"id": "gid://shopify/Fulfillment/1", "tracking": tracking}).json()["data"]
    assert missing["fulfillmentTrackingInfoUpdate"]["userErrors"][0]["message"] == "Fulfillment does not exist."

    create_event = """mutation($event: FulfillmentEventInput!) { fulfillmentEventCreate(fulfillmentEvent: $event) {
      fulfillmentEvent { id status happenedAt city } userErrors { field message } } }"""
    event = store.graphql(create_event, {"event": {"fulfillmentId": fulfillment_id, "status": "DELIVERED",
                                                   "happenedAt": "2026-11-20T10:00:00Z", "city": "Lyon"}}).json()
    created = event["data"]["fulfillmentEventCreate"]
    assert created["userErrors"] == [] and created["fulfillmentEvent"]["status"] == "DELIVERED"
    assert created["fulfillmentEvent"]["city"] == "Lyon"
    query = """query($id: ID!) { order(id: $id) { fulfillments(first: 5) { displayStatus
      events(first: 10) { nodes { status happenedAt } } } } }"""
    (fulfillment,) = store.graphql(query, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]["fulfillments"]
    assert fulfillment == {"displayStatus": "DELIVERED",
                           "events": {"nodes": [{"status": "DELIVERED", "happenedAt": "2026-11-20T10:00:00Z"}]}}
    listed = httpx.get(f"{live_server}/sandbox/shopify/_control/fulfillments", params={"shop": store.domain}).json()
    assert listed["fulfillments"][0]["shipment_status"] == "delivered"
    assert listed["fulfillments"][0]["tracking_number"] == "LX473124829CN"

    received = receiver.wait_for(7)[4:]
    assert sorted(r.header("X-Shopify-Topic") for r in received) == [
        "fulfillment_events/create", "fulfillments/update", "fulfillments/update"]
    (scan,) = [json.loads(r.body) for r in received if r.header("X-Shopify-Topic") == "fulfillment_events/create"]
    assert scan["status"] == "delivered" and scan["order_id"] == order["id"]


def test_concurrent_fulfillments_of_one_fulfillment_order_make_exactly_one(live_server):
    store = Store(live_server)
    order = store.order()["order"]
    node = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    fo_id = node["fulfillmentOrders"]["nodes"][0]["id"]
    # Twenty at once drain the bucket (10 points each is cheap; give room anyway).
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: store.fulfil(fo_id), range(20)))
    created = [r for r in results if r["data"]["fulfillmentCreate"]["fulfillment"]]
    assert len(created) == 1
    listed = httpx.get(f"{live_server}/sandbox/shopify/_control/fulfillments", params={"shop": store.domain}).json()
    assert listed["count"] == 1


def test_twenty_concurrent_orders_get_distinct_ids_and_numbers(live_server):
    store = Store(live_server)
    with ThreadPoolExecutor(max_workers=20) as pool:
        orders = [r["order"] for r in pool.map(lambda _: store.order(paid=False), range(20))]
    assert len({o["id"] for o in orders}) == 20
    assert sorted(o["order_number"] for o in orders) == list(range(1001, 1021))
    listed = httpx.get(f"{live_server}/sandbox/shopify/_control/orders", params={"shop": store.domain}).json()
    assert listed["count"] == 20


def test_throttled_when_the_bucket_is_short(live_server):
    store = Store(live_server)
    order = store.order()["order"]
    control = f"{live_server}/sandbox/shopify/_control/throttle"
    drained = httpx.post(control, json={"shop": store.domain, "currently_available": 0, "restore_rate": 1}).json()
    assert drained["throttleStatus"]["currentlyAvailable"] == 0
    response = store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]})
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    cost = body["extensions"]["cost"]
    assert cost["actualQueryCost"] is None and cost["requestedQueryCost"] > 1
    assert cost["throttleStatus"]["currentlyAvailable"] < cost["requestedQueryCost"]
    assert cost["throttleStatus"]["restoreRate"] == 1.0

    httpx.post(control, json={"shop": store.domain, "reset": True}).raise_for_status()
    assert store.graphql(ORDER_QUERY, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]


def test_a_query_over_the_single_query_limit_is_refused(live_server):
    store = Store(live_server)
    query = """{ order(id: "gid://shopify/Order/1") { fulfillmentOrders(first: 250) {
      nodes { lineItems(first: 250) { nodes { id } } } } } }"""
    body = store.graphql(query).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["extensions"]["cost"]["requestedQueryCost"] > 1000


def test_pay_and_cancel_send_their_webhooks(live_server, receiver):
    store = Store(live_server, receiver.url)
    order = store.order(paid=False)["order"]
    assert order["financial_status"] == "pending"
    paid = httpx.post(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}/pay", timeout=10).json()
    assert paid["order"]["financial_status"] == "paid"
    assert httpx.post(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}/pay").status_code == 409
    cancelled = httpx.post(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}/cancel",
                           json={"reason": "customer"}, timeout=10).json()
    assert cancelled["order"]["cancelled_at"] and cancelled["order"]["financial_status"] == "refunded"
    assert cancelled["fulfillment_orders"][0]["status"] == "cancelled"
    # Cancelling a paid order refunds it, as the admin's Cancel order does: a refund record too.
    (refund,) = cancelled["order"]["refunds"]
    assert [(t["kind"], t["status"], t["amount"]) for t in refund["transactions"]] == [
        ("refund", "success", order["total_price"])]
    received = receiver.wait_for(6)
    assert [r.header("X-Shopify-Topic") for r in received] == [
        "orders/create", "orders/paid", "orders/updated", "orders/cancelled", "refunds/create", "orders/updated"
    ]


def test_control_rejects_bad_input_with_a_reason(live_server):
    store = Store(live_server)
    base = f"{live_server}/sandbox/shopify/_control"
    no_lines = httpx.post(f"{base}/orders", json={"shop": store.domain, "order": {"line_items": []}})
    assert no_lines.status_code == 400 and "line_items" in no_lines.json()["error"]
    unknown = httpx.post(f"{base}/orders", json={"shop": "nobody.myshopify.com", "order": PARTIAL_ORDER})
    assert unknown.status_code == 404
    bad_domain = httpx.post(f"{base}/shops", json={"domain": "example.com", "access_token": "x"})
    assert bad_domain.status_code == 400
    assert httpx.post(f"{base}/orders", content=b"not json").status_code == 400
    assert httpx.get(f"{base}/orders/1").status_code == 404
