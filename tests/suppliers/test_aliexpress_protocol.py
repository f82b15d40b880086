"""AliExpress IOP protocol: known-answer signatures, mapping tables, parsers, typed errors."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest

from app.suppliers.protocols import (
    Address,
    LineItem,
    SupplierAuthError,
    SupplierInvalidAddress,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRateLimited,
    SupplierRejected,
    SupplierTransientError,
)
from app.suppliers.protocols import aliexpress as ae

SECRET = "helloworld"
BUSINESS = {
    "app_key": "12345678",
    "timestamp": "1700000000000",
    "method": "aliexpress.ds.order.tracking.get",
    "sign_method": "sha256",
    "access_token": "50000token",
    "ae_order_id": "8100000000000001",
    "language": "en_US",
}
SYSTEM = {"app_key": "12345678", "timestamp": "1700000000000", "sign_method": "sha256", "refresh_token": "50001refresh"}


def _by_hand(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def test_sync_business_signature_known_answer():
    # Step by step as documented: sort by name, key+value with no separators, nothing prepended.
    concatenated = (
        "access_token50000token" "ae_order_id8100000000000001" "app_key12345678" "languageen_US"
        "methodaliexpress.ds.order.tracking.get" "sign_methodsha256" "timestamp1700000000000"
    )
    assert "".join(k + BUSINESS[k] for k in sorted(BUSINESS)) == concatenated
    expected = "21F46E4D44E785DE70B47E58B320B129AAB48EBB26A82C53036681FE897FE2AC"
    assert _by_hand(concatenated) == expected
    assert ae.sign(SECRET, BUSINESS) == expected
    # The sign parameter itself never takes part, and order of insertion does not matter.
    assert ae.sign(SECRET, {**dict(reversed(BUSINESS.items())), "sign": "X"}) == expected


def test_rest_system_signature_prepends_the_path_known_answer():
    concatenated = "/auth/token/refresh" "app_key12345678" "refresh_token50001refresh" "sign_methodsha256" "timestamp1700000000000"
    expected = "7A4CD55DC324CDBF5168161D93C29B6B27A5EC54B0457D437FF388A5375DEEBD"
    assert _by_hand(concatenated) == expected
    assert ae.sign(SECRET, SYSTEM, "/auth/token/refresh") == expected
    # Without the path it is a different signature: the gateway would refuse it.
    assert ae.sign(SECRET, SYSTEM) != expected


def test_json_business_parameter_signed_as_compact_utf8_known_answer():
    dto = {"out_order_id": "dg-42-7", "logistics_address": {"city": "São Paulo", "country": "BR"},
           "product_items": [{"product_id": "1005001000000001", "product_count": 2}]}
    text = ('{"out_order_id":"dg-42-7","logistics_address":{"city":"São Paulo","country":"BR"},'
            '"product_items":[{"product_id":"1005001000000001","product_count":2}]}')
    assert ae.param_text(dto) == text
    params = {"app_key": "12345678", "timestamp": "1700000000000", "method": "aliexpress.ds.order.create",
              "sign_method": "sha256", "access_token": "50000token",
              "param_place_order_request4_open_api_d_t_o": text}
    expected = "348A26F3FBAC8FDE40B2C5CFA27326F843FAE1B3849216A677778BFCD7C200F1"
    assert _by_hand("".join(k + params[k] for k in sorted(params))) == expected
    assert ae.sign(SECRET, {**params, "param_place_order_request4_open_api_d_t_o": dto}) == expected


def test_sign_skips_file_parameters_and_refuses_a_method_name_as_path():
    assert ae.sign(SECRET, {**BUSINESS, "image": b"\x89PNG"}) == ae.sign(SECRET, BUSINESS)
    with pytest.raises(ValueError):
        ae.sign(SECRET, BUSINESS, "aliexpress.ds.order.create")
    with pytest.raises(TypeError):
        ae.param_text(object())
    assert ae.param_text(True) == "true" and ae.param_text(7) == "7"


@pytest.mark.parametrize(
    ("status", "end_reason", "state"),
    [
        ("PLACE_ORDER_SUCCESS", None, SupplierOrderState.RECEIVED),
        ("RISK_CONTROL", None, SupplierOrderState.RECEIVED),
        ("WAIT_SELLER_EXAMINE_MONEY", None, SupplierOrderState.RECEIVED),
        ("WAIT_SELLER_SEND_GOODS", None, SupplierOrderState.CONFIRMED),
        ("SELLER_PART_SEND_GOODS", None, SupplierOrderState.SHIPPED),
        ("WAIT_BUYER_ACCEPT_GOODS", None, SupplierOrderState.SHIPPED),
        ("FUND_PROCESSING", None, SupplierOrderState.DELIVERED),
        ("FINISH", "buyer_accept_goods", SupplierOrderState.DELIVERED),
        ("FINISH", "buyer_accept_goods_timeout", SupplierOrderState.DELIVERED),
        ("FINISH", "buyer_cancel_order", SupplierOrderState.CANCELLED),
        ("FINISH", "seller_send_goods_timeout", SupplierOrderState.CANCELLED),
        ("FINISH", None, SupplierOrderState.ISSUE),
        ("IN_CANCEL", None, SupplierOrderState.ISSUE),
        ("IN_ISSUE", None, SupplierOrderState.ISSUE),
        ("IN_FROZEN", None, SupplierOrderState.ISSUE),
        ("SOMETHING_NEW", None, SupplierOrderState.ISSUE),
    ],
)
def test_status_table(status, end_reason, state):
    assert ae.map_status(status, end_reason) is state


@pytest.mark.parametrize(
    ("code", "business", "kind"),
    [
        ("IllegalAccessToken", False, SupplierAuthError),
        ("IncompleteSignature", False, SupplierAuthError),
        ("ApiCallLimit", False, SupplierRateLimited),
        ("AppCallLimit", False, SupplierRateLimited),
        ("ServiceUnavailable", False, SupplierTransientError),
        ("InvalidParameter", False, SupplierRejected),
        ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", True, SupplierInvalidAddress),
        ("INVENTORY_HOLD_ERROR", True, SupplierOutOfStock),
        ("SKU_NOT_EXIST", True, SupplierOutOfStock),
        ("DELIVERY_METHOD_NOT_EXIST", True, SupplierRejected),
    ],
)
def test_error_classes_keep_the_raw_code(code, business, kind):
    error = ae.classify(code, "message", business=business)
    assert type(error) is kind
    assert error.code == code and error.message == "message"


def test_logistics_address_from_a_delivery_record():
    record = SimpleNamespace(name="Ana Souza", company=None, address1="1 Main St", address2="Apt 2", city="Vineland",
                             province_code="NJ", zip="08360", country_code="us", phone="+1 201-555-0123")
    address = Address.from_record(record, email="ana@example.com")
    assert address.province == "New Jersey" and address.country_code == "US"
    assert ae.logistics_address(address) == {
        "contact_person": "Ana Souza", "full_name": "Ana Souza", "address": "1 Main St", "address2": "Apt 2",
        "city": "Vineland", "province": "New Jersey", "zip": "08360", "country": "US",
        "phone_country": "+1", "mobile_no": "2015550123", "locale": "en_US",
    }


def test_tracking_parser_reads_both_list_shapes():
    node = {"time_stamp": 1700000000000, "tracking_name": "Delivered", "tracking_detail_desc": "Signed for"}
    wrapped = {"ret": True, "data": {"tracking_detail_line_list": {"tracking_detail": [
        {"mail_no": "LP001", "carrier_name": "Cainiao", "detail_node_list": {"detail_node": [node]}}]}}}
    bare = {"ret": True, "data": {"tracking_detail_line_list": [
        {"mail_no": "LP002", "carrier_name": "YunExpress", "detail_node_list": [node]}, {"carrier_name": "no number"}]}}
    first, second = ae.parse_tracking(wrapped)[0], ae.parse_tracking(bare)
    assert first.tracking_number == "LP001" and first.carrier == "Cainiao"
    assert first.events[0].occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert first.events[0].description == "Signed for"
    assert [p.tracking_number for p in second] == ["LP002"]
    assert ae.parse_tracking({"ret": False, "code": "1001", "msg": "TRACKING DATA NOT FOUND"}) == []


def _client(handler) -> ae.AliExpressClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return ae.AliExpressClient("12345678", SECRET, "50000token", base_url="https://gw.test", http=http,
                               clock=lambda: 1700000000.0)


def test_client_signs_what_it_sends():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(dict(httpx.QueryParams(request.content.decode())))
        seen["url"] = str(request.url)
        return httpx.Response(200, json={"aliexpress_ds_order_tracking_get_response": {
            "result": {"ret": False}, "request_id": "r1"}})

    assert _client(handler).get_tracking("8100000000000001") == []
    assert seen.pop("url") == "https://gw.test/sync"
    assert seen.pop("sign") == "21F46E4D44E785DE70B47E58B320B129AAB48EBB26A82C53036681FE897FE2AC"
    assert seen == BUSINESS


def test_client_refresh_uses_rest_path_and_reads_the_grant():
    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        assert request.url.path == "/rest/auth/token/refresh"
        assert "access_token" not in form
        assert form["sign"] == "7A4CD55DC324CDBF5168161D93C29B6B27A5EC54B0457D437FF388A5375DEEBD"
        return httpx.Response(200, json={"access_token": "new", "refresh_token": "r2", "expire_time": 1800000000000,
                                         "refresh_token_valid_time": 1900000000000, "user_id": "77", "code": "0"})

    client = _client(handler)
    grant = client.refresh_token("50001refresh")
    assert grant.access_token == "new" == client.access_token
    assert grant.access_expires_at == datetime.fromtimestamp(1800000000, tz=UTC)
    assert grant.account_id == "77"


def test_gateway_error_envelope_becomes_a_typed_error():
    client = _client(lambda r: httpx.Response(200, json={
        "type": "ISV", "code": "IllegalAccessToken", "message": "expired", "request_id": "r"}))
    with pytest.raises(SupplierAuthError) as caught:
        client.get_order("1")
    assert caught.value.code == "IllegalAccessToken"


def test_create_order_refusal_is_classified():
    client = _client(lambda r: httpx.Response(200, json={"aliexpress_ds_order_create_response": {"result": {
        "is_success": False, "error_code": "INVENTORY_HOLD_ERROR", "error_msg": "not enough"}}}))
    address = Address(name="A", address1="x", city="c", country_code="US", province="Texas", zip="1")
    with pytest.raises(SupplierOutOfStock) as caught:
        client.create_order(out_order_id="k", address=address, lines=[LineItem("1", 1)])
    assert caught.value.code == "INVENTORY_HOLD_ERROR"


def test_transport_failures_say_whether_the_request_may_have_arrived():
    def raiser(error):
        def handler(request):
            raise error
        return handler

    with pytest.raises(SupplierTransientError) as timeout:
        _client(raiser(httpx.ReadTimeout("slow"))).get_order("1")
    assert timeout.value.sent is True
    with pytest.raises(SupplierTransientError) as refused:
        _client(raiser(httpx.ConnectError("refused"))).get_order("1")
    assert refused.value.sent is False
    with pytest.raises(SupplierTransientError) as server:
        _client(lambda r: httpx.Response(502, text="bad gateway")).get_order("1")
    assert server.value.http_status == 502
    with pytest.raises(SupplierTransientError):
        _client(lambda r: httpx.Response(200, text="<html>")).get_order("1")
    with pytest.raises(SupplierRateLimited) as limited:
        _client(lambda r: httpx.Response(429, headers={"Retry-After": "7"})).get_order("1")
    assert limited.value.retry_after == 7.0


def test_parse_stock_reads_sku_levels():
    result = {"ae_item_sku_info_dtos": {"ae_item_sku_info_d_t_o": [
        {"sku_attr": "14:193#Black", "sku_available_stock": 12, "offer_sale_price": "4.20", "currency_code": "USD"},
        {"sku_attr": "", "sku_available_stock": "-3", "sku_price": "1.00"}]}}
    levels = ae.parse_stock("1005", result)
    assert [(s.variant, s.available, str(s.price)) for s in levels] == [("14:193#Black", 12, "4.20"), (None, 0, "1.00")]
    assert json.loads(json.dumps([s.available for s in levels])) == [12, 0]
