"""The CJdropshipping emulator, driven in-process by raw requests and by our client; webhooks captured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import get_settings
from app.sandbox import cj as emulator
from app.sandbox.cj import routes as emulator_routes
from app.suppliers.protocols import (
    Address,
    LineItem,
    SupplierDuplicateOrder,
    SupplierError,
    SupplierInvalidAddress,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRateLimited,
    SupplierRejected,
    SupplierTransientError,
    cj,
    cj_webhooks,
)

BASE = "http://testserver/cj"
IN_STOCK, SCARCE, SOLD_OUT = "CJ-SANDBOX-VID-0001", "CJ-SANDBOX-VID-0002", "CJ-SANDBOX-VID-0003"
ADDRESS = Address(name="Ana Souza", address1="1 Main St", city="Vineland", province="New Jersey",
                  province_code="NJ", zip="08360", country_code="US", phone="+12015550123")


class Receiver:
    """Stands in for our webhook endpoint: records what CJ would POST and answers `status`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.status = 200

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.calls.append((url, body, headers))
        return self.status


@pytest.fixture(scope="module")
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture(scope="module")
def gateway(receiver: Receiver) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(emulator.create_router(receiver), prefix="/cj")
    with TestClient(app) as client:
        yield client


@pytest.fixture
def account(gateway: TestClient, receiver: Receiver) -> Iterator[dict]:
    calm = {"latency_ms": 0, "fail_next": 0, "lose_response_next": 0, "rate_limit_next": 0}
    gateway.post("/cj/_control/behaviour", json=calm)
    receiver.calls.clear()
    receiver.status = 200
    yield gateway.post("/cj/_control/accounts").json()
    gateway.post("/cj/_control/behaviour", json=calm)


def _client(gateway: TestClient, account: dict, store: cj.MemoryTokenStore | None = None) -> cj.CJClient:
    return cj.CJClient(account["api_key"], token_store=store or cj.MemoryTokenStore(), base_url=BASE, http=gateway)


def _place(client: cj.CJClient, number: str | None = None, vid: str = IN_STOCK, quantity: int = 1, **kwargs):
    return client.create_order(order_number=number or _number(), address=ADDRESS, logistic_name="CJPacket",
                               lines=[LineItem(vid, quantity)], **kwargs)


def _number() -> str:
    return "dg-" + uuid.uuid4().hex[:12]


def _advance(gateway: TestClient, order_id: str, **change) -> dict:
    answer = gateway.post(f"/cj/_control/orders/{order_id}/advance", json=change)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_get_access_token_is_limited_to_one_call_per_five_minutes(gateway, account):
    first = gateway.post(f"{BASE}/authentication/getAccessToken", json={"apiKey": account["api_key"]})
    body = first.json()
    assert first.status_code == 200 and body["code"] == 200 and body["result"] is True
    assert body["data"]["openId"] == account["open_id"] and body["data"]["accessToken"]
    assert body["data"]["accessTokenExpiryDate"].endswith("+08:00")
    again = gateway.post(f"{BASE}/authentication/getAccessToken", json={"apiKey": account["api_key"]})
    assert again.status_code == 429 and again.json()["code"] == 1600200
    with pytest.raises(SupplierRateLimited):
        _client(gateway, account).authenticate()
    unknown = gateway.post(f"{BASE}/authentication/getAccessToken", json={"apiKey": "nope"}).json()
    assert (unknown["code"], unknown["result"]) == (1600001, False)


def test_every_call_needs_a_valid_token(gateway, account):
    assert gateway.get(f"{BASE}/setting/get").json()["code"] == 1600001
    assert gateway.get(f"{BASE}/setting/get", headers={"CJ-Access-Token": "forged"}).json()["code"] == 1600001
    assert _client(gateway, account).open_id() == str(account["open_id"])


def test_workers_sharing_a_token_store_call_get_access_token_once(gateway, account):
    store = cj.MemoryTokenStore()
    _client(gateway, account, store).open_id()
    # A second worker with the same store: had it asked for a token again, CJ would answer 429.
    assert _client(gateway, account, store).open_id() == str(account["open_id"])


def test_expired_token_is_refreshed_transparently(gateway, account):
    store = cj.MemoryTokenStore()
    client = _client(gateway, account, store)
    client.open_id()
    first = store.load()
    gateway.post("/cj/_control/behaviour", json={"expire_tokens": True})
    assert client.open_id() == str(account["open_id"])
    assert store.load().access_token != first.access_token
    assert store.load().refresh_token != first.refresh_token  # refresh tokens are single-use here


def test_order_number_is_the_idempotency_key(gateway, account):
    client, number = _client(gateway, account), _number()
    placed = _place(client, number, pay_type=2)
    assert placed.raw_status == "UNSHIPPED" and placed.state is SupplierOrderState.CONFIRMED
    with pytest.raises(SupplierDuplicateOrder) as duplicate:
        _place(client, number, pay_type=2)
    assert duplicate.value.code == "1603000"
    found = client.find_order(number)
    assert found.external_id == placed.external_ids[0] and found.reference == number
    assert client.get_order(placed.external_ids[0]).reference == number
    assert client.find_order(_number()) is None
    orders = gateway.get("/cj/_control/orders", params={"order_number": number}).json()["orders"]
    assert len(orders) == 1


def test_racing_creates_make_one_order(gateway, account):
    number = _number()

    def attempt(_: int) -> str:
        try:
            return _place(_client(gateway, account, store), number).external_ids[0]
        except SupplierDuplicateOrder:
            return "duplicate"

    store = cj.MemoryTokenStore()
    _client(gateway, account, store).open_id()
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes.count("duplicate") == 3
    assert len(gateway.get("/cj/_control/orders", params={"order_number": number}).json()["orders"]) == 1


def test_stock_outs_and_bad_input(gateway, account):
    gateway.post("/cj/_control/stock", json={"vid": SCARCE, "stock": 2})
    client, number = _client(gateway, account), _number()
    with pytest.raises(SupplierOutOfStock) as caught:
        client.create_order(order_number=number, address=ADDRESS, logistic_name="CJPacket",
                            lines=[LineItem(SCARCE, 1), LineItem(SOLD_OUT, 1)])
    assert caught.value.code == "1603000"
    assert client.get_stock(SCARCE).available == 2  # nothing was kept from the refused order
    assert client.find_order(number) is None
    gateway.post("/cj/_control/stock", json={"vid": SOLD_OUT, "stock": 1})
    assert _place(client, number, vid=SOLD_OUT).external_ids  # the refused number is free to use
    no_city = Address(name="Ana", address1="1 Main St", city="", province="New Jersey", country_code="US")
    with pytest.raises(SupplierInvalidAddress) as address:
        client.create_order(order_number=_number(), address=no_city, logistic_name="CJPacket",
                            lines=[LineItem(IN_STOCK, 1)])
    assert address.value.code == "1600100"
    with pytest.raises(SupplierRejected):
        _place(client, vid="CJ-NO-SUCH-VID")


def _delivered(receiver: Receiver, account: dict) -> list[cj_webhooks.CJMessage]:
    messages = []
    for url, body, headers in receiver.calls:
        assert url == get_settings().public_base + "/webhooks/suppliers/cj"
        assert headers["Content-Type"] == "application/json"
        by_hand = base64.b64encode(hmac.new(str(account["open_id"]).encode(), body, hashlib.sha256).digest()).decode()
        assert headers["sign"] == by_hand
        assert cj_webhooks.verify_webhook(body, headers["sign"], account["open_id"])
        messages.append(cj_webhooks.parse_webhook(body))
    return messages


def test_lifecycle_pushes_signed_order_and_logistic_webhooks(gateway, account, receiver):
    client, number = _client(gateway, account), _number()
    order_id = _place(client, number).external_ids[0]
    assert receiver.calls == []  # creation itself is not pushed
    for _ in range(3):
        _advance(gateway, order_id)  # CREATED -> UNPAID -> UNSHIPPED -> SHIPPED
    _advance(gateway, order_id, tracking_status=10, activity="Out for delivery", location="Vineland")
    _advance(gateway, order_id)  # -> DELIVERED
    messages = _delivered(receiver, account)
    assert [(m.type, m.order.raw_status if m.order else m.logistic.tracking_status) for m in messages] == [
        ("ORDER", "UNPAID"), ("ORDER", "UNSHIPPED"), ("ORDER", "SHIPPED"), ("LOGISTIC", 1), ("LOGISTIC", 10),
        ("ORDER", "DELIVERED"), ("LOGISTIC", 12)]
    assert len({m.message_id for m in messages}) == len(messages)
    assert all(m.open_id == str(account["open_id"]) for m in messages)
    assert {m.order.order_number for m in messages if m.order} == {number}
    last = messages[-1].logistic
    assert last.state is SupplierOrderState.DELIVERED and last.order_numbers == (number,)
    assert [e.raw_status for e in last.parcel.events] == ["1", "10", "12"]
    assert last.parcel.events[1].location == "Vineland"
    raw = json.loads(receiver.calls[-1][1])
    assert isinstance(raw["params"]["logisticsTrackEvents"], str)  # a JSON string, as CJ sends it
    snapshot = client.get_order(number)
    assert snapshot.state is SupplierOrderState.DELIVERED
    assert snapshot.parcels[0].tracking_number == last.parcel.tracking_number
    assert gateway.post(f"/cj/_control/orders/{order_id}/advance", json={}).status_code == 409


def test_registered_callbacks_and_redelivery(gateway, account, receiver):
    client = _client(gateway, account)
    client.set_webhooks("https://merchant.example/hooks/cj")
    order_id = _place(client).external_ids[0]
    receiver.status = 500
    deliveries = _advance(gateway, order_id)["deliveries"]
    assert [(d["url"], d["status"]) for d in deliveries] == [("https://merchant.example/hooks/cj", 500)]
    receiver.status = 200
    resent = gateway.post("/cj/_control/webhooks/redeliver").json()["resent"]
    assert [(d["messageId"], d["status"], d["attempts"]) for d in resent] == [(deliveries[0]["messageId"], 200, 2)]
    assert receiver.calls[0][1] == receiver.calls[1][1]  # the same message, byte for byte
    assert gateway.post("/cj/_control/webhooks/redeliver").json()["resent"] == []


def test_cancel_only_before_shipment(gateway, account, receiver):
    gateway.post("/cj/_control/stock", json={"vid": SCARCE, "stock": 3})
    client = _client(gateway, account)
    first = _place(client, vid=SCARCE, quantity=2).external_ids[0]
    assert client.get_stock(SCARCE).available == 1
    client.cancel_order(first)
    assert client.get_order(first).state is SupplierOrderState.CANCELLED
    assert client.get_stock(SCARCE).available == 3
    assert [m.order.raw_status for m in _delivered(receiver, account)] == ["CANCELLED"]
    second = _place(client).external_ids[0]
    _advance(gateway, second, to="SHIPPED")
    with pytest.raises(SupplierRejected) as refused:
        client.cancel_order(second)
    assert refused.value.code == "1603002"


def test_tracking_stock_and_listing(gateway, account):
    client = _client(gateway, account)
    order_id = _place(client).external_ids[0]
    track = _advance(gateway, order_id, to="SHIPPED")["order"]["trackNumber"]
    parcel = client.get_tracking(track)
    assert parcel.tracking_number == track and parcel.shipment_status == "in_transit"
    assert client.get_tracking("NOPE") is None
    gateway.post("/cj/_control/stock", json={"vid": IN_STOCK, "stock": 77})
    assert client.get_stock(IN_STOCK).available == 77
    assert client.get_stock("CJ-NO-SUCH-VID").available == 0
    listed = client.list_orders(status="SHIPPED")
    assert [o.external_id for o in listed] == [order_id]


def test_failures_and_the_lookup_before_retry(gateway, account):
    client = _client(gateway, account)
    client.open_id()
    gateway.post("/cj/_control/behaviour", json={"fail_next": 1})
    with pytest.raises(SupplierTransientError) as failed:
        client.get_stock(IN_STOCK)
    assert failed.value.http_status == 502
    gateway.post("/cj/_control/behaviour", json={"rate_limit_next": 1})
    with pytest.raises(SupplierRateLimited):
        client.get_stock(IN_STOCK)

    number = _number()
    gateway.post("/cj/_control/behaviour", json={"lose_response_next": 1})
    with pytest.raises(SupplierError) as lost:
        _place(client, number)
    assert isinstance(lost.value, SupplierTransientError) and lost.value.sent is True
    found = client.find_order(number)  # ask first: the order exists, so there is nothing to re-send
    assert found is not None and found.reference == number
    with pytest.raises(SupplierDuplicateOrder):
        _place(client, number)


def test_bad_input_gets_a_4xx_or_cj_error(gateway, account):
    client = _client(gateway, account)
    order_id = _place(client).external_ids[0]
    advance = f"/cj/_control/orders/{order_id}/advance"
    assert gateway.post(advance, json={"to": "TELEPORTED"}).status_code == 400
    assert gateway.post(advance, json={"tracking_status": 5}).status_code == 409  # not shipped yet
    assert gateway.post(advance, json={"speed": 1}).status_code == 422
    assert gateway.post("/cj/_control/orders/nope/advance").status_code == 404
    assert gateway.post("/cj/_control/stock", json={"vid": IN_STOCK, "stock": -1}).status_code == 422
    assert gateway.post(advance).json()["order"]["orderStatus"] == "UNPAID"  # no body: the next status
    token = {"CJ-Access-Token": client.access_token()}
    body = {"orderNumber": _number(), "shippingCountryCode": "US", "shippingCountry": "United States",
            "shippingProvince": "NJ", "shippingCity": "Vineland", "shippingCustomerName": "Ana",
            "shippingAddress": "1 Main St", "logisticName": "CJPacket", "fromCountryCode": "CN"}
    bad_products = gateway.post(f"{BASE}/shopping/order/createOrderV2", headers=token, json={**body, "products": "x"})
    assert (bad_products.status_code, bad_products.json()["code"]) == (200, 1600100)
    text_quantity = {**body, "products": [{"vid": IN_STOCK, "quantity": "2"}]}
    assert gateway.post(f"{BASE}/shopping/order/createOrderV2", headers=token, json=text_quantity).json()["code"] == 1603000
    assert gateway.post(f"{BASE}/shopping/order/createOrderV2", headers=token, content=b"[").status_code == 422


def test_default_delivery_reports_no_answer_as_zero():
    assert emulator_routes.http_deliver("http://127.0.0.1:9/webhooks/suppliers/cj", b"{}", {}) == 0
