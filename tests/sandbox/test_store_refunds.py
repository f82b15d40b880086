"""Refunds in the Shopify emulator: refundCreate against the order's sale transactions with
@idempotent(key:), the refunds/create and orders/updated webhooks after it (signed, REST shape),
pending transactions settled later, and `refund(id:)`."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import httpx
import pytest

from app.webhooks.signing import verify_shopify_hmac
from tests.sandbox.receiver import Receiver
from tests.sandbox.test_store_emulator import SECRET, Store

CONTEXT = """query($id: ID!) { order(id: $id) { transactions(first: 10) { id kind status gateway
  amountSet { shopMoney { amount } } } lineItems(first: 5) { nodes { id quantity } } } }"""
REFUND_FIELDS = """id legacyResourceId note totalRefundedSet { shopMoney { amount currencyCode } }
  transactions(first: 5) { nodes { kind status gateway amountSet { shopMoney { amount } } parentTransaction { id } } }
  refundLineItems(first: 5) { nodes { quantity lineItem { id } subtotalSet { shopMoney { amount } } } }"""
CREATE = f"""mutation($input: RefundInput!) {{ refundCreate(input: $input) @idempotent(key: "KEY") {{
  refund {{ {REFUND_FIELDS} }} userErrors {{ field message }} }} }}"""
READ = f"query($id: ID!) {{ refund(id: $id) {{ {REFUND_FIELDS} }} }}"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _context(store: Store, order: dict) -> tuple[dict, list[dict]]:
    body = store.graphql(CONTEXT, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    return body["transactions"][0], body["lineItems"]["nodes"]


def _create(store: Store, order: dict, key: str, *, amount: str, parent: str | None, lines=None) -> dict:
    refund_input = {
        "orderId": order["admin_graphql_api_id"], "note": f"damaged [dropguard:{key}]", "notify": False,
        "transactions": [{"orderId": order["admin_graphql_api_id"], "gateway": "shopify_payments", "kind": "REFUND",
                          "amount": amount, **({"parentId": parent} if parent else {})}],
    }
    if lines:
        refund_input["refundLineItems"] = lines
    return store.graphql(CREATE.replace("KEY", key), {"input": refund_input}).json()["data"]["refundCreate"]


def _topics(received) -> list[str]:
    return [r.header("X-Shopify-Topic") for r in received]


def test_refund_create_returns_money_from_the_sale_once_and_sends_its_webhooks(live_server, receiver):
    store = Store(live_server, receiver.url)
    order = store.order()["order"]
    receiver.wait_for(2)  # orders/create, orders/paid
    sale, lines = _context(store, order)
    assert (sale["kind"], sale["status"], sale["amountSet"]["shopMoney"]["amount"]) == (
        "SALE", "SUCCESS", order["total_price"])
    key = f"dg-test-{uuid.uuid4().hex[:8]}"

    created = _create(store, order, key, amount="10.00", parent=sale["id"],
                      lines=[{"lineItemId": lines[1]["id"], "quantity": 1}])
    assert created["userErrors"] == []
    refund = created["refund"]
    assert refund["totalRefundedSet"]["shopMoney"] == {"amount": "10.00", "currencyCode": "EUR"}
    (transaction,) = refund["transactions"]["nodes"]
    assert (transaction["kind"], transaction["status"], transaction["parentTransaction"]["id"]) == (
        "REFUND", "SUCCESS", sale["id"])
    assert refund["refundLineItems"]["nodes"][0]["lineItem"]["id"] == lines[1]["id"]

    received = receiver.wait_for(4)
    assert _topics(received)[2:] == ["refunds/create", "orders/updated"]
    for delivery in received[2:]:
        assert verify_shopify_hmac(delivery.body, delivery.header("X-Shopify-Hmac-Sha256"), SECRET)
    rest = json.loads(received[2].body)
    assert str(rest["id"]) == refund["legacyResourceId"] and rest["order_id"] == order["id"]
    assert [(t["kind"], t["status"], t["amount"]) for t in rest["transactions"]] == [("refund", "success", "10.00")]
    assert rest["refund_line_items"][0]["quantity"] == 1 and rest["note"].endswith(f"[dropguard:{key}]")
    updated = json.loads(received[3].body)
    assert updated["financial_status"] == "partially_refunded" and updated["updated_at"] > order["updated_at"]

    # The same key again: the first refund, no second one and no webhook.
    again = _create(store, order, key, amount="10.00", parent=sale["id"])
    assert again["refund"]["id"] == refund["id"] and again["userErrors"] == []
    # More than what remains on the sale, and a parent that is not this order's sale: refused.
    too_much = _create(store, order, key + "-2", amount=str(Decimal(order["total_price"])), parent=sale["id"])
    assert too_much["refund"] is None and "refundable" in too_much["userErrors"][0]["message"]
    stranger = _create(store, order, key + "-3", amount="1.00", parent="gid://shopify/OrderTransaction/1")
    assert stranger["refund"] is None and stranger["userErrors"][0]["field"][-1] == "parentId"
    stored = httpx.get(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}", timeout=10).json()
    assert len(stored["order"]["refunds"]) == 1
    assert len(receiver.requests) == 4


def test_pending_refund_settles_later_and_reads_back(live_server, receiver):
    store = Store(live_server, receiver.url)
    base = f"{live_server}/sandbox/shopify/_control"
    assert httpx.post(f"{base}/behaviour", json={"shop": store.domain, "transaction_status": "pending"},
                      timeout=10).status_code == 200
    order = store.order()["order"]
    sale, _ = _context(store, order)
    refund = _create(store, order, f"dg-p-{uuid.uuid4().hex[:8]}", amount=order["total_price"],
                     parent=sale["id"])["refund"]
    assert refund["transactions"]["nodes"][0]["status"] == "PENDING"
    assert refund["totalRefundedSet"]["shopMoney"]["amount"] == "0.00"
    assert json.loads(receiver.wait_for(4)[3].body)["financial_status"] == "paid"  # nothing went back yet

    settled = httpx.post(f"{base}/orders/{order['id']}/refunds/{refund['legacyResourceId']}/settle",
                         json={"status": "success"}, timeout=10)
    assert settled.status_code == 200, settled.text
    assert settled.json()["order"]["financial_status"] == "refunded"
    read = store.graphql(READ, {"id": refund["id"]}).json()["data"]["refund"]
    assert read["transactions"]["nodes"][0]["status"] == "SUCCESS"
    assert read["totalRefundedSet"]["shopMoney"]["amount"] == order["total_price"]
    # Another shop's token does not see it.
    assert Store(live_server).graphql(READ, {"id": refund["id"]}).json()["data"]["refund"] is None


def test_merchant_refund_in_the_admin_sends_refunds_create(live_server, receiver):
    store = Store(live_server, receiver.url)
    order = store.order()["order"]
    line = order["line_items"][0]
    made = httpx.post(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}/refunds",
                      json={"amount": "5.00", "note": "Goodwill", "line_items": [{"line_item_id": line["id"]}]},
                      timeout=10)
    assert made.status_code == 201, made.text
    assert [w["topic"] for w in made.json()["webhooks"]] == ["refunds/create", "orders/updated"]
    rest = json.loads(receiver.wait_for(3)[2].body)
    assert rest["note"] == "Goodwill" and rest["refund_line_items"][0]["line_item_id"] == line["id"]
    assert [t["parent_id"] is not None for t in rest["transactions"]] == [True]
    over = httpx.post(f"{live_server}/sandbox/shopify/_control/orders/{order['id']}/refunds",
                      json={"amount": order["total_price"]}, timeout=10)
    assert over.status_code == 409 and "remains paid" in over.json()["error"]
