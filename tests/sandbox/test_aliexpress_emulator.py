"""The AliExpress gateway emulator, driven in-process by hand-signed requests and by our client."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.sandbox import aliexpress as emulator
from app.suppliers.protocols import (
    Address,
    LineItem,
    SupplierAuthError,
    SupplierInvalidAddress,
    SupplierNotFound,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRateLimited,
    SupplierTransientError,
)
from app.suppliers.protocols.aliexpress import AliExpressClient

BASE = "http://testserver/aliexpress"
STAND, CABLE, SOLD_OUT = "1005001000000001", "1005001000000002", "1005001000000003"
BLACK = "14:193#Black"
ADDRESS = Address(name="Ana Souza", address1="1 Main St", city="Vineland", province="New Jersey",
                  province_code="NJ", zip="08360", country_code="US", phone="+1 201-555-0123")


@pytest.fixture(scope="module")
def gateway() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(emulator.router, prefix="/aliexpress")
    with TestClient(app) as client:
        yield client


@pytest.fixture
def account(gateway: TestClient) -> Iterator[dict[str, str]]:
    calm = {"latency_ms": 0, "fail_next": 0, "lose_response_next": 0, "rate_limit_next": 0}
    gateway.post("/aliexpress/_control/behaviour", json=calm)
    yield gateway.post("/aliexpress/_control/apps").json()
    gateway.post("/aliexpress/_control/behaviour", json=calm)


def _client(gateway: TestClient, account: dict[str, str]) -> AliExpressClient:
    return AliExpressClient(account["app_key"], account["app_secret"], account["access_token"], base_url=BASE,
                            http=gateway)


def _signed(account: dict[str, str], params: dict[str, str], path: str | None = None, **overrides: str) -> dict:
    """A request signed by hand, the documented way, independent of the client module."""
    form = {"app_key": account["app_key"], "timestamp": str(int(time.time() * 1000)), "sign_method": "sha256",
            **params, **overrides}
    text = (path or "") + "".join(k + form[k] for k in sorted(form))
    form["sign"] = hmac.new(account["app_secret"].encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return form


def _product_get(account: dict[str, str], **overrides: str) -> dict:
    return _signed(account, {"method": "aliexpress.ds.product.get", "access_token": account["access_token"],
                             "product_id": STAND, "ship_to_country": "US"}, **overrides)


def _reference() -> str:
    return "dg-" + uuid.uuid4().hex[:12]


def test_signature_is_verified_like_the_gateway(gateway, account):
    good = _product_get(account)
    answer = gateway.post(f"{BASE}/sync", data=good).json()
    assert answer["aliexpress_ds_product_get_response"]["result"]["ae_item_base_info_dto"]["product_id"] == int(STAND)

    tampered = {**good, "product_id": CABLE}  # signed for STAND, asks for CABLE
    refused = gateway.post(f"{BASE}/sync", data=tampered)
    assert refused.status_code == 200
    body = refused.json()
    assert (body["type"], body["code"]) == ("ISV", "IncompleteSignature")
    assert body["message"] and body["request_id"]
    lower = {**good, "sign": good["sign"].lower()}
    assert gateway.post(f"{BASE}/sync", data=lower).json()["code"] == "IncompleteSignature"
    # Parameters may come in the query string as well as in the form body.
    assert "aliexpress_ds_product_get_response" in gateway.post(f"{BASE}/sync", params=good).json()


def test_rest_calls_sign_their_path(gateway, account):
    params = {"refresh_token": account["refresh_token"]}
    without_path = gateway.post(f"{BASE}/rest/auth/token/refresh", data=_signed(account, params)).json()
    assert without_path["code"] == "IncompleteSignature"
    granted = gateway.post(f"{BASE}/rest/auth/token/refresh",
                           data=_signed(account, params, "/auth/token/refresh")).json()
    assert granted["code"] == "0" and granted["access_token"] and granted["refresh_token"]


def test_timestamp_must_be_within_7200_seconds(gateway, account):
    now_ms = int(time.time() * 1000)
    stale = _product_get(account, timestamp=str(now_ms - 7300 * 1000))
    assert gateway.post(f"{BASE}/sync", data=stale).json()["code"] == "InvalidTimestamp"
    future = _product_get(account, timestamp=str(now_ms + 7300 * 1000))
    assert gateway.post(f"{BASE}/sync", data=future).json()["code"] == "InvalidTimestamp"
    inside = _product_get(account, timestamp=str(now_ms - 7000 * 1000))
    assert "aliexpress_ds_product_get_response" in gateway.post(f"{BASE}/sync", data=inside).json()
    iso = _product_get(account, timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert "aliexpress_ds_product_get_response" in gateway.post(f"{BASE}/sync", data=iso).json()


def test_keys_and_tokens(gateway, account):
    unknown = _product_get({**account, "app_key": "999"})
    assert gateway.post(f"{BASE}/sync", data=unknown).json()["code"] == "InvalidAppKey"
    no_token = _signed(account, {"method": "aliexpress.ds.product.get", "product_id": STAND})
    assert gateway.post(f"{BASE}/sync", data=no_token).json()["code"] == "MissingAccessToken"
    foreign = gateway.post("/aliexpress/_control/apps").json()  # another app's token is not ours
    client = _client(gateway, {**account, "access_token": foreign["access_token"]})
    with pytest.raises(SupplierAuthError) as caught:
        client.get_stock(STAND, ship_to_country="US")
    assert caught.value.code == "IllegalAccessToken"


def test_expired_token_then_refresh(gateway, account):
    client = _client(gateway, account)
    gateway.post("/aliexpress/_control/behaviour", json={"expire_tokens": True})
    with pytest.raises(SupplierAuthError) as caught:
        client.get_stock(STAND, ship_to_country="US")
    assert caught.value.code == "IllegalAccessToken"
    grant = client.refresh_token(account["refresh_token"])
    assert grant.access_token != account["access_token"] and grant.access_expires_at > datetime.now(UTC)
    assert client.get_stock(STAND, ship_to_country="US")
    with pytest.raises(SupplierAuthError) as reused:  # a refresh token works once
        client.refresh_token(account["refresh_token"])
    assert reused.value.code == "IllegalRefreshToken"


def test_create_splits_by_seller(gateway, account):
    reference = _reference()
    placed = _client(gateway, account).create_order(
        out_order_id=reference, address=ADDRESS, try_to_pay=False,
        lines=[LineItem(STAND, 1, variant=BLACK), LineItem(CABLE, 2)])
    assert placed.reference == reference and placed.state is SupplierOrderState.RECEIVED
    assert len(placed.external_ids) == 2
    orders = gateway.get("/aliexpress/_control/orders", params={"out_order_id": reference}).json()["orders"]
    assert sorted(o["order_id"] for o in orders) == sorted(placed.external_ids)
    assert {o["seller_id"] for o in orders} == {"2001", "2002"}
    assert {o["country"] for o in orders} == {"US"}


def test_a_repeated_out_order_id_buys_again(gateway, account):
    """Documented behaviour: out_order_id is a reference, not an idempotency key."""
    client, reference = _client(gateway, account), _reference()
    first = client.create_order(out_order_id=reference, address=ADDRESS, lines=[LineItem(CABLE, 1)])
    second = client.create_order(out_order_id=reference, address=ADDRESS, lines=[LineItem(CABLE, 1)])
    assert first.external_ids != second.external_ids
    orders = gateway.get("/aliexpress/_control/orders", params={"out_order_id": reference}).json()["orders"]
    assert len(orders) == 2


def test_stock_out_takes_nothing(gateway, account):
    gateway.post("/aliexpress/_control/stock", json={"product_id": CABLE, "stock": 10})
    client = _client(gateway, account)
    with pytest.raises(SupplierOutOfStock) as caught:
        client.create_order(out_order_id=_reference(), address=ADDRESS,
                            lines=[LineItem(CABLE, 3), LineItem(SOLD_OUT, 1)])
    assert caught.value.code == "INVENTORY_HOLD_ERROR"
    assert client.get_stock(CABLE, ship_to_country="US")[0].available == 10  # the cable was put back
    with pytest.raises(SupplierOutOfStock) as missing:
        client.create_order(out_order_id=_reference(), address=ADDRESS, lines=[LineItem(STAND, 1, variant="no:such")])
    assert missing.value.code == "SKU_NOT_EXIST"


def test_invalid_address_is_refused_with_its_code(gateway, account):
    no_province = Address(name="Ana", address1="1 Main St", city="Vineland", country_code="US", zip="08360")
    with pytest.raises(SupplierInvalidAddress) as caught:
        _client(gateway, account).create_order(out_order_id=_reference(), address=no_province,
                                               lines=[LineItem(CABLE, 1)])
    assert caught.value.code == "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"
    assert "Province" in caught.value.message


def test_lifecycle_is_seen_by_polling(gateway, account):
    client = _client(gateway, account)
    order_id = client.create_order(out_order_id=_reference(), address=ADDRESS, try_to_pay=True,
                                   lines=[LineItem(STAND, 1, variant=BLACK)]).external_ids[0]
    seen = [client.get_order(order_id)]
    assert client.get_tracking(order_id) == []
    for _ in range(3):
        assert gateway.post(f"/aliexpress/_control/orders/{order_id}/advance").status_code == 200
        seen.append(client.get_order(order_id))
    assert [s.raw_status for s in seen] == ["RISK_CONTROL", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_ACCEPT_GOODS", "FINISH"]
    assert [s.state for s in seen] == [SupplierOrderState.RECEIVED, SupplierOrderState.CONFIRMED,
                                       SupplierOrderState.SHIPPED, SupplierOrderState.DELIVERED]
    assert seen[2].parcels and seen[2].parcels[0].tracking_number.startswith("LP")
    parcel = client.get_tracking(order_id)[0]
    assert parcel.tracking_number == seen[2].parcels[0].tracking_number
    assert [e.raw_status for e in parcel.events] == ["Delivered", "Shipped"]  # newest first
    assert gateway.post(f"/aliexpress/_control/orders/{order_id}/advance", json={}).status_code == 409


def test_side_states_and_closes(gateway, account):
    client = _client(gateway, account)
    ids = [client.create_order(out_order_id=_reference(), address=ADDRESS, lines=[LineItem(CABLE, 1)]).external_ids[0]
           for _ in range(2)]
    gateway.post(f"/aliexpress/_control/orders/{ids[0]}/advance", json={"to": "IN_ISSUE"})
    assert client.get_order(ids[0]).state is SupplierOrderState.ISSUE
    gateway.post(f"/aliexpress/_control/orders/{ids[1]}/advance", json={"to": "FINISH"})
    closed = client.get_order(ids[1])
    assert closed.state is SupplierOrderState.CANCELLED and closed.raw["end_reason"] == "cancel_order_close_trade"
    other = _client(gateway, gateway.post("/aliexpress/_control/apps").json())
    with pytest.raises(SupplierNotFound):  # one account cannot read another's orders
        other.get_order(ids[0])


def test_stock_levels(gateway, account):
    gateway.post("/aliexpress/_control/stock", json={"product_id": STAND, "sku_attr": BLACK, "stock": 42})
    levels = {s.variant: s for s in _client(gateway, account).get_stock(STAND, ship_to_country="US")}
    assert levels[BLACK].available == 42 and str(levels[BLACK].price) == "4.20"
    with pytest.raises(SupplierNotFound):
        _client(gateway, account).get_stock("1", ship_to_country="US")


def test_failures_rate_limits_and_lost_answers(gateway, account):
    client = _client(gateway, account)
    gateway.post("/aliexpress/_control/behaviour", json={"fail_next": 1, "fail_status": 502})
    with pytest.raises(SupplierTransientError) as failed:
        client.get_stock(STAND, ship_to_country="US")
    assert failed.value.http_status == 502
    assert client.get_stock(STAND, ship_to_country="US")  # only the next call failed

    gateway.post("/aliexpress/_control/behaviour", json={"rate_limit_next": 1})
    with pytest.raises(SupplierRateLimited) as limited:
        client.get_stock(STAND, ship_to_country="US")
    assert limited.value.code == "ApiCallLimit"

    reference = _reference()
    gateway.post("/aliexpress/_control/behaviour", json={"lose_response_next": 1})
    with pytest.raises(SupplierTransientError) as lost:
        client.create_order(out_order_id=reference, address=ADDRESS, lines=[LineItem(CABLE, 1)])
    assert lost.value.sent is True and lost.value.http_status == 504
    # The order exists although the caller saw a failure: exactly why a blind re-send is unsafe.
    assert len(gateway.get("/aliexpress/_control/orders", params={"out_order_id": reference}).json()["orders"]) == 1


def test_latency_is_emulated(gateway, account):
    gateway.post("/aliexpress/_control/behaviour", json={"latency_ms": 300})
    started = time.monotonic()
    _client(gateway, account).get_stock(STAND, ship_to_country="US")
    assert time.monotonic() - started >= 0.3
    assert gateway.get("/aliexpress/_control/behaviour").json()["behaviour"]["latency_ms"] == 300
    assert gateway.post("/aliexpress/_control/behaviour", json={"bogus": 1}).status_code == 422


def test_control_input_is_checked(gateway, account):
    order_id = _client(gateway, account).create_order(out_order_id=_reference(), address=ADDRESS,
                                                      lines=[LineItem(CABLE, 1)]).external_ids[0]
    advance = f"/aliexpress/_control/orders/{order_id}/advance"
    assert gateway.post(advance, json={"to": "TELEPORTED"}).status_code == 400
    assert gateway.post(advance, json={"speed": 1}).status_code == 422
    assert gateway.post("/aliexpress/_control/orders/1/advance").status_code == 404
    assert gateway.post("/aliexpress/_control/stock", json={"product_id": CABLE, "stock": "many"}).status_code == 422
    assert gateway.post("/aliexpress/_control/stock", json={"product_id": "1", "stock": 1}).status_code == 404
    event = gateway.post(advance, json={"event": "Customs cleared"}).json()["order"]
    assert event["order_status"] == "PLACE_ORDER_SUCCESS" and event["tracking"][-1]["desc"] == "Customs cleared"
    broken = _signed(account, {"method": "aliexpress.ds.order.create", "access_token": account["access_token"],
                               "param_place_order_request4_open_api_d_t_o": "{not json"})
    assert gateway.post(f"{BASE}/sync", data=broken).json()["code"] == "InvalidParameter"
    for dto in ("[]", '{"logistics_address": "x", "product_items": []}', '{"product_items": [1]}'):
        odd = _signed(account, {"method": "aliexpress.ds.order.create", "access_token": account["access_token"],
                                "param_place_order_request4_open_api_d_t_o": dto})
        assert gateway.post(f"{BASE}/sync", data=odd).json()["code"] == "InvalidParameter"
    lookup = _signed(account, {"method": "aliexpress.trade.ds.order.get", "access_token": account["access_token"],
                               "single_order_query": "{oops"})
    assert gateway.post(f"{BASE}/sync", data=lookup).json()["code"] == "InvalidParameter"
    unknown = _signed(account, {"method": "aliexpress.no.such.api", "access_token": account["access_token"]})
    assert gateway.post(f"{BASE}/sync", data=unknown).json()["code"] == "InvalidApiPath"
