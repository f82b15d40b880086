"""orderUpdate in the Shopify emulator: the shipping address and phone replaced field by field,
orders/updated sent once per real change, Shopify's userErrors for what it refuses."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.receiver import Receiver
from tests.sandbox.test_store_emulator import Store

UPDATE = """mutation($input: OrderInput!) { orderUpdate(input: $input) {
  order { id shippingAddress { address1 city phone countryCodeV2 } } userErrors { field message } } }"""
READ = "query($id: ID!) { order(id: $id) { updatedAt shippingAddress { address1 city zip phone } } }"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_order_update_changes_the_address_and_sends_orders_updated_once(live_server, receiver):
    store = Store(live_server, receiver.url)
    order = store.order()["order"]
    receiver.wait_for(2)  # orders/create, orders/paid
    gid = order["admin_graphql_api_id"]
    before = store.graphql(READ, {"id": gid}).json()["data"]["order"]
    change = {"id": gid, "shippingAddress": {"phone": "+33 6 12 34 56 78", "address1": "3 rue des Lilas"}}
    payload = store.graphql(UPDATE, {"input": change}).json()["data"]["orderUpdate"]
    assert payload["userErrors"] == []
    assert payload["order"]["shippingAddress"]["phone"] == "+33 6 12 34 56 78"
    after = store.graphql(READ, {"id": gid}).json()["data"]["order"]
    assert after["shippingAddress"]["address1"] == "3 rue des Lilas"
    assert after["shippingAddress"]["city"] == before["shippingAddress"]["city"]  # left out: kept
    assert after["updatedAt"] > before["updatedAt"]
    received = receiver.wait_for(3)
    assert received[2].header("X-Shopify-Topic") == "orders/updated"
    assert json.loads(received[2].body)["shipping_address"]["phone"] == "+33 6 12 34 56 78"
    # The same input again changes nothing and sends nothing.
    assert store.graphql(UPDATE, {"input": change}).json()["data"]["orderUpdate"]["userErrors"] == []
    with pytest.raises(AssertionError, match="got 3"):
        receiver.wait_for(4, timeout=1.5)


@pytest.mark.parametrize(("change", "field"), [
    ({"shippingAddress": {"phone": "not a phone"}}, ["shippingAddress", "phone"]),
    ({"shippingAddress": {"countryCode": "ZZ"}}, ["shippingAddress", "countryCode"]),
])
def test_order_update_refuses_what_shopify_refuses(live_server, change, field):
    store = Store(live_server)
    gid = store.order()["order"]["admin_graphql_api_id"]
    payload = store.graphql(UPDATE, {"input": {"id": gid, **change}}).json()["data"]["orderUpdate"]
    assert payload["order"] is None and [e["field"] for e in payload["userErrors"]] == [field]


def test_another_shops_order_does_not_exist(live_server):
    mine, theirs = Store(live_server), Store(live_server)
    gid = theirs.order()["order"]["admin_graphql_api_id"]
    payload = mine.graphql(UPDATE, {"input": {"id": gid, "phone": "+12175550123"}}).json()["data"]["orderUpdate"]
    assert payload["userErrors"] == [{"field": ["id"], "message": "Order does not exist"}]
