"""CJdropshipping protocol: webhook signature known answers, envelope parsing, tables, token handling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.suppliers.protocols import (
    SupplierAuthError,
    SupplierDuplicateOrder,
    SupplierInvalidAddress,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRateLimited,
    SupplierRejected,
    SupplierTransientError,
    TokenGrant,
    cj,
    cj_webhooks,
)

OPEN_ID = "1234567890123"
BODY = (
    b'{"messageId":"ca72a4834cd14b9588e88ce206f614a0","type":"ORDER","messageType":"UPDATE",'
    b'"openId":1234567890123,"params":{"cjOrderId":"2600000000000001","orderNumber":"dg-1-1",'
    b'"orderStatus":"SHIPPED"}}'
)
BODY_SIGN = "9zT/Ihsuz0KyNn6bN/WcQaDWo8K68Z+fqz99AAEw6sY="
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_webhook_signature_known_answer():
    # Standard Base64 of HMAC-SHA256 over the raw body, keyed with the openId as a string.
    by_hand = base64.b64encode(hmac.new(OPEN_ID.encode(), BODY, hashlib.sha256).digest()).decode()
    assert by_hand == BODY_SIGN
    assert cj_webhooks.webhook_signature(BODY, OPEN_ID) == BODY_SIGN
    assert cj_webhooks.webhook_signature(BODY, int(OPEN_ID)) == BODY_SIGN


def test_verify_webhook_rejects_any_change():
    assert cj_webhooks.verify_webhook(BODY, BODY_SIGN, OPEN_ID)
    assert cj_webhooks.verify_webhook(BODY, f" {BODY_SIGN}\n", OPEN_ID)
    assert not cj_webhooks.verify_webhook(BODY + b" ", BODY_SIGN, OPEN_ID)  # re-serialised JSON fails
    assert not cj_webhooks.verify_webhook(BODY, BODY_SIGN, "1234567890124")
    assert not cj_webhooks.verify_webhook(BODY, None, OPEN_ID)
    assert not cj_webhooks.verify_webhook(BODY, base64.urlsafe_b64encode(b"x" * 32).decode(), OPEN_ID)


def test_parse_order_message():
    message = cj_webhooks.parse_webhook(BODY)
    assert (message.message_id, message.type, message.message_type, message.open_id) == (
        "ca72a4834cd14b9588e88ce206f614a0", "ORDER", "UPDATE", OPEN_ID)
    assert message.order.order_number == "dg-1-1" and message.order.cj_order_id == "2600000000000001"
    assert message.order.state is SupplierOrderState.SHIPPED
    assert message.logistic is None


def test_parse_logistic_message_with_events_as_a_json_string():
    events = [{"status": 5, "activity": "In transit", "location": "Shenzhen", "eventTime": "2026-11-20 08:30:00"},
              {"status": 12, "activity": "Delivered", "location": "Vineland", "eventTime": "2026-11-26 10:00:00"}]
    body = json.dumps({"messageId": "m-2", "type": "LOGISTIC", "messageType": "UPDATE", "openId": 1, "params": {
        "orderId": "2600000000000001", "storeOrderNumbers": ["dg-1-1"], "logisticName": "CJPacket",
        "trackingNumber": "CJPKL1", "trackingUrl": "https://t/1", "trackingStatus": 12,
        "logisticsTrackEvents": json.dumps(events)}}).encode()
    update = cj_webhooks.parse_webhook(body).logistic
    assert update.order_numbers == ("dg-1-1",) and update.tracking_status == 12
    assert update.state is SupplierOrderState.DELIVERED
    assert update.parcel.shipment_status == "delivered" and update.parcel.carrier == "CJPacket"
    first = update.parcel.events[0]
    # CJ's clock strings are China time: 08:30 in Shenzhen is 00:30 UTC.
    assert first.occurred_at == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    assert (first.description, first.location, first.raw_status) == ("In transit", "Shenzhen", "5")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"type":"ORDER","params":{}}', b'{"messageId":"m","type":"ORDER","params":"x"}',
     b'{"messageId":"m","type":"LOGISTIC","params":{"trackingStatus":1}}',
     b'{"messageId":"m","type":"LOGISTIC","params":{"trackingNumber":"T","logisticsTrackEvents":"{oops"}}'],
)
def test_malformed_webhooks_are_refused(body):
    with pytest.raises(cj_webhooks.CJWebhookError):
        cj_webhooks.parse_webhook(body)


@pytest.mark.parametrize(
    ("status", "state"),
    [("CREATED", SupplierOrderState.RECEIVED), ("IN_CART", SupplierOrderState.RECEIVED),
     ("UNPAID", SupplierOrderState.RECEIVED), ("UNSHIPPED", SupplierOrderState.CONFIRMED),
     ("SHIPPED", SupplierOrderState.SHIPPED), ("DELIVERED", SupplierOrderState.DELIVERED),
     ("CANCELLED", SupplierOrderState.CANCELLED), ("TRASH", SupplierOrderState.ISSUE), (None, SupplierOrderState.ISSUE)],
)
def test_order_status_table(status, state):
    assert cj.map_status(status) is state


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, ("pending", None)), (1, ("in_transit", SupplierOrderState.SHIPPED)),
     (9, ("in_transit", SupplierOrderState.SHIPPED)), (10, ("out_for_delivery", SupplierOrderState.SHIPPED)),
     ("11", ("available_for_pickup", SupplierOrderState.SHIPPED)), (12, ("delivered", SupplierOrderState.DELIVERED)),
     (13, ("exception", SupplierOrderState.ISSUE)), (14, ("returned", SupplierOrderState.ISSUE)),
     (99, (None, None)), ("x", (None, None))],
)
def test_tracking_status_table(value, expected):
    assert cj.map_tracking_status(value) == expected


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [(1600001, "Invalid access token", SupplierAuthError), (1600003, "Invalid refresh token", SupplierAuthError),
     (1600200, "Too much request", SupplierRateLimited), (1600201, "Quota used up", SupplierRateLimited),
     (1600000, "Interface internal error", SupplierTransientError),
     (1603000, "Order number dg-1 already exists", SupplierDuplicateOrder),
     (1603000, "Insufficient inventory for variant V", SupplierOutOfStock),
     (1600100, "Param error: shippingCity required", SupplierInvalidAddress),
     (1600100, "Param error: products required", SupplierRejected)],
)
def test_error_classes_keep_the_raw_code(code, message, kind):
    error = cj.classify(code, message)
    assert type(error) is kind and error.code == str(code)


def _grant(access: str, *, expires_in: timedelta, refresh: str | None = "r1") -> TokenGrant:
    return TokenGrant(access_token=access, refresh_token=refresh, access_expires_at=NOW + expires_in,
                      refresh_expires_at=NOW + timedelta(days=100))


def _token_answer(access: str) -> dict:
    return {"code": 200, "result": True, "message": "Success", "data": {
        "openId": 42, "accessToken": access, "accessTokenExpiryDate": "2026-12-11T12:00:00+08:00",
        "refreshToken": "r-" + access, "refreshTokenExpiryDate": "2027-05-25T12:00:00+08:00"}}


class FakeCJ:
    """Answers token calls and a stock call; a token listed in `dead` is refused with 1600001."""

    def __init__(self, dead: set[str] | None = None, refresh_ok: bool = True) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.dead, self.refresh_ok, self.issued = dead or set(), refresh_ok, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, token = request.url.path, request.headers.get("CJ-Access-Token")
        self.calls.append((path, token))
        if path.endswith("/getAccessToken"):
            self.issued += 1
            return httpx.Response(200, json=_token_answer(f"fresh{self.issued}"))
        if path.endswith("/refreshAccessToken"):
            if not self.refresh_ok:
                return httpx.Response(200, json={"code": 1600003, "result": False, "message": "Invalid refresh token"})
            self.issued += 1
            return httpx.Response(200, json=_token_answer(f"refreshed{self.issued}"))
        if token in self.dead:
            return httpx.Response(200, json={"code": 1600001, "result": False, "message": "Invalid access token"})
        return httpx.Response(200, json={"code": 200, "result": True, "data": [{"totalInventoryNum": 4}]})


def _client(fake: FakeCJ, store: cj.MemoryTokenStore) -> cj.CJClient:
    return cj.CJClient("key", token_store=store, base_url="https://cj.test/api2.0/v1",
                       http=httpx.Client(transport=httpx.MockTransport(fake)), clock=lambda: NOW)


def test_cached_token_is_reused():
    fake, store = FakeCJ(), cj.MemoryTokenStore(_grant("cached", expires_in=timedelta(days=5)))
    client = _client(fake, store)
    assert client.get_stock("V").available == 4
    assert client.get_stock("V").available == 4
    assert fake.calls == [("/api2.0/v1/product/stock/queryByVid", "cached")] * 2


def test_token_near_expiry_is_refreshed_and_saved():
    fake, store = FakeCJ(), cj.MemoryTokenStore(_grant("old", expires_in=timedelta(hours=2)))
    _client(fake, store).get_stock("V")
    assert [path for path, _ in fake.calls] == ["/api2.0/v1/authentication/refreshAccessToken",
                                                "/api2.0/v1/product/stock/queryByVid"]
    saved = store.load()
    assert saved.access_token == "refreshed1" and saved.account_id == "42"
    assert saved.access_expires_at == datetime(2026, 12, 11, 4, 0, tzinfo=UTC)


def test_without_tokens_the_api_key_is_used_once():
    fake, store = FakeCJ(), cj.MemoryTokenStore()
    client = _client(fake, store)
    client.get_stock("V")
    client.get_stock("V")
    assert [p for p, _ in fake.calls].count("/api2.0/v1/authentication/getAccessToken") == 1


def test_a_token_refused_mid_life_is_renewed_once_and_the_call_resent():
    fake = FakeCJ(dead={"revoked"})
    store = cj.MemoryTokenStore(_grant("revoked", expires_in=timedelta(days=5)))
    assert _client(fake, store).get_stock("V").available == 4
    assert fake.calls[-1] == ("/api2.0/v1/product/stock/queryByVid", "refreshed1")


def test_a_refused_refresh_token_falls_back_to_the_api_key():
    fake = FakeCJ(refresh_ok=False)
    store = cj.MemoryTokenStore(_grant("old", expires_in=timedelta(0)))
    _client(fake, store).get_stock("V")
    assert store.load().access_token == "fresh1"


def test_persistent_auth_failure_surfaces_as_auth_error():
    fake = FakeCJ(dead={"fresh1", "refreshed1", "refreshed2"})
    with pytest.raises(SupplierAuthError) as caught:
        _client(fake, cj.MemoryTokenStore()).get_stock("V")
    assert caught.value.code == "1600001"


def test_parse_time_forms():
    assert cj.parse_time("2026-11-26 08:00:00") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert cj.parse_time("2026-11-26T08:00:00+00:00") == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert cj.parse_time(1700000000000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert cj.parse_time("") is None and cj.parse_time("soon") is None


def test_losing_a_renewal_race_reuses_the_winners_token():
    class RacedStore(cj.MemoryTokenStore):
        """Another worker renews between our read and our refresh, spending the refresh token."""

        def __init__(self) -> None:
            super().__init__(_grant("old", expires_in=timedelta(0)))
            self.reads = 0

        def load(self) -> TokenGrant | None:
            self.reads += 1
            if self.reads == 2:
                self.save(_grant("winner", expires_in=timedelta(days=10)))
            return super().load()

    fake = FakeCJ(refresh_ok=False)
    client = _client(fake, RacedStore())
    assert client.access_token() == "winner"
    assert "/api2.0/v1/authentication/getAccessToken" not in [path for path, _ in fake.calls]


def test_clients_close_only_what_they_opened():
    http = httpx.Client(transport=httpx.MockTransport(FakeCJ()))
    cj.CJClient("key", token_store=cj.MemoryTokenStore(), http=http).close()
    assert not http.is_closed
    own = cj.CJClient("key", token_store=cj.MemoryTokenStore())
    own.close()
    assert own._http.is_closed
