"""CJdropshipping API v2: token auth, the order/logistics/stock calls we need, status tables.

Protocol facts (docs/facts/integrations.md 1.2):
- Base https://developers.cjdropshipping.com/api2.0/v1; every call sends `CJ-Access-Token`.
  Answers are {code, result, message, data, requestId}; code 200 means success.
- POST /authentication/getAccessToken {apiKey} gives an access token (~15 days) and a refresh
  token (~180 days), and is limited to about one call per 5 minutes per key: tokens must be cached
  (the client takes a TokenStore so the service can keep them in Redis/DB) and refreshed with
  POST /authentication/refreshAccessToken before they lapse.
- POST /shopping/order/createOrderV2 takes `orderNumber` = our idempotency key; CJ refuses a second
  order with the same number, and GET /shopping/order/getOrderDetail?orderId= accepts either CJ's
  id or our number, which is the lookup-before-retry.
- Webhooks (ORDER, LOGISTIC, ...) are verified and parsed in cj_webhooks; the account's openId,
  their signing key, comes from GET /setting/get (CJClient.open_id).
- CJ's clock strings ("yyyy-MM-dd HH:mm:ss") carry no zone; they are China time (UTC+8).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import httpx

from app import http_clients
from app.suppliers.protocols import (
    Address,
    LineItem,
    OrderSnapshot,
    Parcel,
    PlacedOrder,
    StockLevel,
    SupplierAuthError,
    SupplierDuplicateOrder,
    SupplierError,
    SupplierInvalidAddress,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRateLimited,
    SupplierRejected,
    SupplierTransientError,
    TokenGrant,
    read_json,
    retry_after_seconds,
    send,
)

API_BASE = "https://developers.cjdropshipping.com/api2.0/v1"
TOKEN_HEADER = "CJ-Access-Token"  # noqa: S105 - a header name, not a secret
CJ_TIME = timezone(timedelta(hours=8))

OK = 200
INTERNAL_ERROR = 1600000
INVALID_TOKEN = 1600001  # invalid or expired access token / API key
EMPTY_TOKEN = 1600002
INVALID_REFRESH_TOKEN = 1600003
PARAM_ERROR = 1600100
TOO_MANY_REQUESTS = 1600200
QUOTA_USED_UP = 1600201
ORDER_CREATE_FAILED = 1603000  # the message says why: duplicate number, stock, address [verify]

S = SupplierOrderState
ORDER_STATUS_TABLE: dict[str, SupplierOrderState] = {
    "CREATED": S.RECEIVED,
    "IN_CART": S.RECEIVED,
    "UNPAID": S.RECEIVED,
    "UNSHIPPED": S.CONFIRMED,  # paid, awaiting dispatch
    "SHIPPED": S.SHIPPED,
    "DELIVERED": S.DELIVERED,
    "CANCELLED": S.CANCELLED,
}

# LOGISTIC trackingStatus -> (normalised shipment status, supplier-order state it implies or None).
TRACKING_STATUS_TABLE: dict[int, tuple[str, SupplierOrderState | None]] = {
    0: ("pending", None),  # no information yet
    1: ("in_transit", S.SHIPPED),  # left the CJ warehouse
    2: ("in_transit", S.SHIPPED),  # received by the forwarder
    3: ("in_transit", S.SHIPPED),  # returned by the forwarder (re-routed)
    4: ("in_transit", S.SHIPPED),  # dispatched by the forwarder
    5: ("in_transit", S.SHIPPED),  # first leg / international transit
    6: ("in_transit", S.SHIPPED),  # arrived in the destination country
    7: ("in_transit", S.SHIPPED),  # customs started
    8: ("in_transit", S.SHIPPED),  # customs cleared
    9: ("in_transit", S.SHIPPED),  # last-mile carrier picked up
    10: ("out_for_delivery", S.SHIPPED),
    11: ("available_for_pickup", S.SHIPPED),
    12: ("delivered", S.DELIVERED),
    13: ("exception", S.ISSUE),
    14: ("returned", S.ISSUE),
}


def map_status(order_status: str | None) -> SupplierOrderState:
    return ORDER_STATUS_TABLE.get((order_status or "").upper(), S.ISSUE)


def map_tracking_status(value: Any) -> tuple[str | None, SupplierOrderState | None]:
    try:
        return TRACKING_STATUS_TABLE[int(value)]
    except (KeyError, TypeError, ValueError):
        return None, None


def parse_time(value: Any) -> datetime | None:
    """CJ dates: "yyyy-MM-dd HH:mm:ss" in China time, ISO with an offset, or epoch milliseconds."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CJ_TIME)


# ---- errors --------------------------------------------------------------------------------------


def classify(code: Any, message: str, *, http_status: int | None = None, raw: Any = None) -> SupplierError:
    kwargs: dict[str, Any] = {"code": str(code) if code is not None else None, "http_status": http_status,
                              "raw": raw}
    text = message.lower()
    if code in (INVALID_TOKEN, EMPTY_TOKEN, INVALID_REFRESH_TOKEN, 1600004, 1600005) or http_status == 401:
        return SupplierAuthError(message, **kwargs)
    if code in (TOO_MANY_REQUESTS, QUOTA_USED_UP) or http_status == 429:
        return SupplierRateLimited(message, **kwargs)
    if code == INTERNAL_ERROR:
        return SupplierTransientError(message, **kwargs)
    if any(word in text for word in ("already exist", "repeat", "duplicate")):
        return SupplierDuplicateOrder(message, **kwargs)
    if any(word in text for word in ("stock", "inventory")):
        return SupplierOutOfStock(message, **kwargs)
    if any(word in text for word in ("address", "province", "city", "zip", "country")):
        return SupplierInvalidAddress(message, **kwargs)
    return SupplierRejected(message, **kwargs)


# ---- token storage -------------------------------------------------------------------------------


class TokenStore(Protocol):
    """Where the client keeps its tokens; the service backs it with Redis or the database so that
    every worker shares one token (getAccessToken allows about one call per 5 minutes)."""

    def load(self) -> TokenGrant | None: ...

    def save(self, grant: TokenGrant) -> None: ...


class MemoryTokenStore:
    """A process-local store: scripts, tests, a single worker."""

    def __init__(self, grant: TokenGrant | None = None) -> None:
        self._grant, self._lock = grant, threading.Lock()

    def load(self) -> TokenGrant | None:
        with self._lock:
            return self._grant

    def save(self, grant: TokenGrant) -> None:
        with self._lock:
            self._grant = grant


def _grant(data: Mapping[str, Any]) -> TokenGrant:
    if not isinstance(data, Mapping) or not data.get("accessToken"):
        raise SupplierAuthError("token answer without accessToken", raw=data)
    return TokenGrant(
        access_token=str(data["accessToken"]),
        refresh_token=data.get("refreshToken"),
        access_expires_at=parse_time(data.get("accessTokenExpiryDate")),
        refresh_expires_at=parse_time(data.get("refreshTokenExpiryDate")),
        account_id=str(data["openId"]) if data.get("openId") is not None else None,
    )


def _snapshot(data: Mapping[str, Any]) -> OrderSnapshot:
    status = str(data.get("orderStatus") or "")
    track = data.get("trackNumber")
    parcels = (Parcel(tracking_number=str(track), carrier=data.get("logisticName"),
                      tracking_url=data.get("trackingUrl")),) if track else ()
    reference = data.get("orderNum") or data.get("orderNumber")
    return OrderSnapshot(external_id=str(data.get("orderId") or data.get("cjOrderId") or ""),
                         raw_status=status, state=map_status(status),
                         reference=str(reference) if reference else None, parcels=parcels, raw=dict(data))


# ---- client --------------------------------------------------------------------------------------


class CJClient:
    """CJ API v2 calls with token caching through a TokenStore."""

    def __init__(
        self,
        api_key: str,
        *,
        token_store: TokenStore,
        base_url: str = API_BASE,
        http: httpx.Client | None = None,
        timeout: float = 15.0,
        refresh_margin: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api_key, self.tokens = api_key, token_store
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or http_clients.client(timeout=timeout)
        self._margin, self._clock = refresh_margin, clock

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # -- transport --

    def _exchange(self, method: str, path: str, *, token: str | None, params: Mapping[str, Any] | None = None,
                  body: Any = None) -> Any:
        headers = {TOKEN_HEADER: token} if token else {}
        response = send(self._http, method, self.base_url + path, params=params, json=body, headers=headers)
        if response.status_code == 429:
            raise SupplierRateLimited(response.text[:200] or "HTTP 429", http_status=429,
                                      code=str(TOO_MANY_REQUESTS), retry_after=retry_after_seconds(response))
        payload = read_json(response)
        if payload.get("code") == OK and payload.get("result") is not False:
            return payload.get("data")
        raise classify(payload.get("code"), str(payload.get("message") or ""), http_status=response.status_code,
                       raw=payload)

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """An authenticated call; an access token CJ calls invalid is renewed once and the call re-sent
        (safe even for creates: CJ refused the request before looking at it)."""
        token = self.access_token()
        try:
            return self._exchange(method, path, token=token, params=params, body=body)
        except SupplierAuthError as error:
            if error.code != str(INVALID_TOKEN):
                raise
        return self._exchange(method, path, token=self.access_token(renew=True), params=params, body=body)

    # -- tokens --

    def authenticate(self) -> TokenGrant:
        grant = _grant(self._exchange("POST", "/authentication/getAccessToken", token=None,
                                      body={"apiKey": self.api_key}))
        self.tokens.save(grant)
        return grant

    def refresh(self, refresh_token: str) -> TokenGrant:
        grant = _grant(self._exchange("POST", "/authentication/refreshAccessToken", token=None,
                                      body={"refreshToken": refresh_token}))
        self.tokens.save(grant)
        return grant

    def _fresh(self, grant: TokenGrant | None) -> bool:
        return bool(grant) and (grant.access_expires_at is None or grant.access_expires_at - self._margin > self._clock())

    def access_token(self, *, renew: bool = False) -> str:
        """A usable token: the stored one, else refreshed, else a new one from the API key.

        Workers sharing a store may race to renew; the loser's refresh is refused (refresh tokens may
        be single-use), so the store is read again before spending the rate-limited API-key call.
        """
        grant = self.tokens.load()
        if not renew and self._fresh(grant):
            return grant.access_token
        if grant and grant.refresh_token and (grant.refresh_expires_at is None or grant.refresh_expires_at > self._clock()):
            try:
                return self.refresh(grant.refresh_token).access_token
            except SupplierAuthError:
                latest = self.tokens.load()
                if latest and latest.access_token != grant.access_token and self._fresh(latest):
                    return latest.access_token
        return self.authenticate().access_token

    # -- business calls --

    def create_order(self, *, order_number: str, address: Address, lines: Iterable[LineItem], logistic_name: str,
                     from_country_code: str = "CN", pay_type: int | None = None, remark: str | None = None,
                     sandbox: bool = False) -> PlacedOrder:
        body: dict[str, Any] = {
            "orderNumber": order_number,
            "shippingCountryCode": address.country_code,
            "shippingCountry": address.country_name,
            "shippingProvince": address.province or "",
            "shippingCity": address.city,
            "shippingAddress": address.address1,
            "shippingAddress2": address.address2 or "",
            "shippingCustomerName": address.name,
            "shippingZip": address.zip or "",
            "shippingPhone": address.phone or "",
            "email": address.email or "",
            "remark": remark or "",
            "logisticName": logistic_name,
            "fromCountryCode": from_country_code,
            "products": [{"vid": line.supplier_sku, "quantity": line.quantity} for line in lines],
        }
        if pay_type is not None:
            body["payType"] = pay_type
        if sandbox:
            body["isSandbox"] = 1
        data = self.call("POST", "/shopping/order/createOrderV2", body=body) or {}
        status = str(data.get("orderStatus") or "CREATED")
        if not data.get("orderId"):
            raise SupplierTransientError("order accepted but no orderId returned", raw=data)
        return PlacedOrder(reference=order_number, external_ids=(str(data["orderId"]),), raw_status=status,
                           state=map_status(status), raw=dict(data))

    def get_order(self, order_id: str) -> OrderSnapshot | None:
        """By CJ order id or by our orderNumber; None when CJ has no such order."""
        try:
            data = self.call("GET", "/shopping/order/getOrderDetail", params={"orderId": order_id})
        except SupplierRejected as error:
            if "not found" in error.message.lower() or "not exist" in error.message.lower():
                return None
            raise
        return _snapshot(data) if isinstance(data, Mapping) and data else None

    def find_order(self, order_number: str) -> OrderSnapshot | None:
        """Lookup-before-retry: did an earlier attempt already create our order?"""
        return self.get_order(order_number)

    def list_orders(self, *, page: int = 1, page_size: int = 20, status: str | None = None) -> list[OrderSnapshot]:
        params: dict[str, Any] = {"pageNum": page, "pageSize": page_size}
        if status:
            params["status"] = status
        data = self.call("GET", "/shopping/order/list", params=params) or {}
        return [_snapshot(row) for row in data.get("list") or () if isinstance(row, Mapping)]

    def cancel_order(self, cj_order_id: str) -> None:
        self.call("DELETE", "/shopping/order/deleteOrder", params={"orderId": cj_order_id})

    def get_tracking(self, track_number: str) -> Parcel | None:
        data = self.call("GET", "/logistic/trackInfo", params={"trackNumber": track_number})
        rows = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else []
        for row in rows:
            if str(row.get("trackingNumber") or "") == track_number:
                shipment_status, _ = map_tracking_status(row.get("trackingStatus"))
                return Parcel(tracking_number=track_number, carrier=row.get("logisticName"),
                              tracking_url=row.get("trackingUrl"), shipment_status=shipment_status)
        return None

    def get_stock(self, vid: str) -> StockLevel:
        rows = self.call("GET", "/product/stock/queryByVid", params={"vid": vid}) or []
        total = sum(int(row.get("totalInventoryNum") or row.get("storageNum") or 0)
                    for row in rows if isinstance(row, Mapping))
        return StockLevel(supplier_sku=vid, available=max(total, 0))

    def open_id(self) -> str:
        """The account's openId, which is also the webhook signing key."""
        data = self.call("GET", "/setting/get") or {}
        return str(data.get("openId") or "")

    def set_webhooks(self, callback_url: str, *, topics: Iterable[str] = ("order", "logistics")) -> None:
        self.call("POST", "/webhook/set",
                  body={topic: {"type": "ENABLE", "callbackUrls": [callback_url]} for topic in topics})
