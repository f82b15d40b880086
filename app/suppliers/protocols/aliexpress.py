"""AliExpress Open Platform (IOP gateway, sign_method sha256): signing, the DS calls we need, parsing.

Protocol facts (docs/facts/integrations.md 1.1):
- Business APIs: POST {base}/sync with the API name in `method`; system (auth) APIs: POST
  {base}/rest/<path>, e.g. /auth/token/refresh.
- Every call carries app_key, timestamp (epoch ms; the gateway allows 7,200 s of skew), sign_method
  and sign; DS calls also carry access_token.
- Signature: sort all parameters but `sign` (and file parameters) by name, concatenate
  key1value1key2value2..., prepend the API path only for /rest system APIs, HMAC-SHA256 keyed with
  the app secret, upper-case hex.

Two behaviours the caller must plan for:
- There is no order webhook for DS orders: status and tracking come only from polling
  `aliexpress.trade.ds.order.get` and `aliexpress.ds.order.tracking.get` (with backoff; the
  service owns the schedule).
- `out_order_id` is a reference, not an idempotency key: AliExpress does not refuse a repeated one
  and offers no lookup by it, so re-sending a create whose answer was lost may buy the goods twice.
  A create that failed with `SupplierError.sent == True` must be reconciled, not re-sent blindly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

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
    SupplierError,
    SupplierInvalidAddress,
    SupplierNotFound,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRateLimited,
    SupplierRejected,
    SupplierTransientError,
    TokenGrant,
    TrackingEvent,
    read_json,
    retry_after_seconds,
    send,
)

GATEWAY = "https://api-sg.aliexpress.com"
SIGN_METHOD = "sha256"
TIMESTAMP_WINDOW_SECONDS = 7200

ORDER_CREATE = "aliexpress.ds.order.create"
ORDER_GET = "aliexpress.trade.ds.order.get"
TRACKING_GET = "aliexpress.ds.order.tracking.get"
PRODUCT_GET = "aliexpress.ds.product.get"
TOKEN_REFRESH_PATH = "/auth/token/refresh"  # noqa: S105 - a path, not a secret

S = SupplierOrderState
# order_status -> our state. FINISH is resolved by end_reason (see map_status).
STATUS_TABLE: dict[str, SupplierOrderState] = {
    "PLACE_ORDER_SUCCESS": S.RECEIVED,  # placed, awaiting payment
    "RISK_CONTROL": S.RECEIVED,  # paid, 24 h payment risk check: can still be refused
    "WAIT_SELLER_EXAMINE_MONEY": S.RECEIVED,  # the seller must confirm the amount
    "WAIT_SELLER_SEND_GOODS": S.CONFIRMED,
    "SELLER_PART_SEND_GOODS": S.SHIPPED,  # partial: some parcels left, tracking shows which
    "WAIT_BUYER_ACCEPT_GOODS": S.SHIPPED,
    "FUND_PROCESSING": S.DELIVERED,  # receipt confirmed, funds settling
    "IN_CANCEL": S.ISSUE,  # a cancellation was asked for; not final until FINISH
    "IN_ISSUE": S.ISSUE,  # AliExpress buyer-protection dispute
    "IN_FROZEN": S.ISSUE,
}
# end_reason values of a FINISHed order that mean the goods arrived; any other reason is a close.
COMPLETED_END_REASONS = frozenset({"buyer_accept_goods", "buyer_accept_goods_timeout"})

# Gateway (IOP) error codes; anything else from the gateway is a plain rejection.
_AUTH_CODES = frozenset(
    {"IllegalAccessToken", "IncompleteSignature", "InvalidAppKey", "InvalidSignature",
     "MissingAccessToken", "IllegalRefreshToken", "InsufficientPermission", "AppWhiteIpLimit"}
)
_RATE_CODES = frozenset({"ApiCallLimit", "AppCallLimit", "AccessControl", "IspQpsLimit"})
_TRANSIENT_CODES = frozenset({"ServiceUnavailable", "ServiceTimeout", "InternalError", "ISPError"})
# DS business error codes (result.error_code).
_ADDRESS_CODES = frozenset({"B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "NOT_SUPPORT_COUNTRY"})
# A product or SKU that no longer exists cannot be bought either: the fallback supplier should take it.
_STOCK_CODES = frozenset({"INVENTORY_HOLD_ERROR", "SKU_NOT_EXIST", "PRODUCT_NOT_EXIST"})


# ---- signing -------------------------------------------------------------------------------------


def param_text(value: Any) -> str:
    """The one text form of a parameter value, used both to sign it and to send it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise TypeError(f"cannot send a {type(value).__name__} as an AliExpress parameter")


def sign(secret: str, params: Mapping[str, Any], api_path: str | None = None) -> str:
    """IOP sha256 signature. `api_path` only for /rest system APIs (e.g. "/auth/token/refresh")."""
    if api_path is not None and not api_path.startswith("/"):
        raise ValueError("api_path is a /rest path such as /auth/token/refresh, not a method name")
    parts = [api_path or ""]
    for name in sorted(params):
        value = params[name]
        if name == "sign" or isinstance(value, bytes | bytearray) or hasattr(value, "read"):
            continue
        parts.append(name + param_text(value))
    digest = hmac.new(secret.encode(), "".join(parts).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest().upper()


# ---- mapping tables ------------------------------------------------------------------------------


def map_status(order_status: str, end_reason: str | None = None) -> SupplierOrderState:
    if order_status == "FINISH":
        if not end_reason:
            return S.ISSUE  # closed without saying why: a person decides
        return S.DELIVERED if end_reason in COMPLETED_END_REASONS else S.CANCELLED
    return STATUS_TABLE.get(order_status, S.ISSUE)


def classify(code: str | None, message: str, *, http_status: int | None = None, raw: Any = None,
             business: bool = False) -> SupplierError:
    """The typed error for an AliExpress error code (gateway codes, or DS result.error_code)."""
    code = code or None
    kwargs: dict[str, Any] = {"code": code, "http_status": http_status, "raw": raw}
    if business:
        if code in _ADDRESS_CODES or "ADDRESS" in (code or ""):
            return SupplierInvalidAddress(message, **kwargs)
        if code in _STOCK_CODES or "STOCK" in (code or "") or "INVENTORY" in (code or ""):
            return SupplierOutOfStock(message, **kwargs)
        return SupplierRejected(message, **kwargs)
    if code in _AUTH_CODES:
        return SupplierAuthError(message, **kwargs)
    if code in _RATE_CODES:
        return SupplierRateLimited(message, **kwargs)
    if code in _TRANSIENT_CODES:
        return SupplierTransientError(message, **kwargs)
    return SupplierRejected(message, **kwargs)


def logistics_address(address: Address) -> dict[str, str]:
    """The DS `logistics_address` DTO from a normalised address."""
    phone_country, mobile = address.phone_parts()
    fields = {
        "contact_person": address.name,
        "full_name": address.name,
        "address": address.address1,
        "address2": address.address2 or "",
        "city": address.city,
        "province": address.province or "",
        "zip": address.zip or "",
        "country": address.country_code,
        "phone_country": phone_country,
        "mobile_no": mobile,
        "locale": "en_US",
    }
    return {name: value for name, value in fields.items() if value}


# ---- response parsing ----------------------------------------------------------------------------


def _listed(container: Any, key: str) -> list[Any]:
    """AliExpress wraps lists as {"key": [...]}, sometimes not, sometimes a single object."""
    if isinstance(container, Mapping):
        container = container.get(key, [])
    if container is None:
        return []
    return list(container) if isinstance(container, list) else [container]


def _from_millis(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_tracking(result: Mapping[str, Any]) -> list[Parcel]:
    if not result.get("ret", True) or not isinstance(result.get("data"), Mapping):
        return []
    parcels = []
    for line in _listed(result["data"].get("tracking_detail_line_list"), "tracking_detail"):
        number = str(line.get("mail_no") or "")
        if not number:
            continue
        nodes = _listed(line.get("detail_node_list"), "detail_node")
        events = tuple(
            TrackingEvent(
                occurred_at=_from_millis(node.get("time_stamp")),
                description=str(node.get("tracking_detail_desc") or node.get("tracking_name") or ""),
                raw_status=node.get("tracking_name"),
            )
            for node in nodes
        )
        parcels.append(Parcel(tracking_number=number, carrier=line.get("carrier_name"), events=events))
    return parcels


def parse_order(order_id: str, result: Mapping[str, Any]) -> OrderSnapshot:
    status = str(result.get("order_status") or "")
    parcels = tuple(
        Parcel(tracking_number=str(info["logistics_no"]), carrier=info.get("logistics_service"))
        for info in _listed(result.get("logistics_info_list"), "aeop_order_logistics_info")
        if info.get("logistics_no")
    )
    return OrderSnapshot(
        external_id=order_id,
        raw_status=status,
        state=map_status(status, result.get("end_reason")),
        parcels=parcels,
        raw=dict(result),
    )


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def parse_stock(product_id: str, result: Mapping[str, Any]) -> list[StockLevel]:
    levels = []
    for sku in _listed(result.get("ae_item_sku_info_dtos"), "ae_item_sku_info_d_t_o"):
        try:
            available = int(sku.get("sku_available_stock") or 0)
        except (TypeError, ValueError):
            available = 0
        levels.append(
            StockLevel(
                supplier_sku=product_id,
                variant=sku.get("sku_attr") or None,
                available=max(available, 0),
                price=_decimal(sku.get("offer_sale_price") or sku.get("sku_price")),
                currency=sku.get("currency_code"),
            )
        )
    return levels


def _grant(payload: Mapping[str, Any], now: datetime) -> TokenGrant:
    def expiry(epoch_key: str, seconds_key: str) -> datetime | None:
        return _from_millis(payload.get(epoch_key)) or (
            now + timedelta(seconds=int(payload[seconds_key])) if payload.get(seconds_key) else None
        )

    return TokenGrant(
        access_token=str(payload["access_token"]),
        refresh_token=payload.get("refresh_token"),
        access_expires_at=expiry("expire_time", "expires_in"),
        refresh_expires_at=expiry("refresh_token_valid_time", "refresh_expires_in"),
        account_id=str(payload["user_id"]) if payload.get("user_id") else None,
    )


# ---- client --------------------------------------------------------------------------------------


class AliExpressClient:
    """Signed calls to the IOP gateway. Thread-compatible; one instance per app key and account."""

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        access_token: str | None = None,
        *,
        base_url: str = GATEWAY,
        http: httpx.Client | None = None,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_key, self._secret, self.access_token = app_key, app_secret, access_token
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or http_clients.client(timeout=timeout)
        self._clock = clock

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def signed_params(self, params: Mapping[str, Any], *, method: str | None = None,
                      api_path: str | None = None, with_token: bool = True) -> dict[str, str]:
        system: dict[str, Any] = {
            "app_key": self.app_key,
            "timestamp": str(int(self._clock() * 1000)),
            "sign_method": SIGN_METHOD,
        }
        if method:
            system["method"] = method
        if with_token and self.access_token:
            system["access_token"] = self.access_token
        merged = {name: param_text(value) for name, value in {**params, **system}.items() if value is not None}
        merged["sign"] = sign(self._secret, merged, api_path)
        return merged

    def _post(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        response = send(self._http, "POST", url, data=form)
        if response.status_code == 429:
            raise SupplierRateLimited("HTTP 429", http_status=429, retry_after=retry_after_seconds(response))
        payload = read_json(response)
        code = payload.get("code")
        if code not in (None, "0", 0) and ("type" in payload or "message" in payload):
            raise classify(str(code), str(payload.get("message") or ""), http_status=response.status_code,
                           raw=payload)
        if isinstance(payload.get("error_response"), Mapping):  # legacy TOP-style envelope
            error = payload["error_response"]
            raise classify(str(error.get("sub_code") or error.get("code")), str(error.get("msg") or ""),
                           http_status=response.status_code, raw=payload)
        return payload

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """A /sync business call; returns the `<method>_response` object."""
        payload = self._post(f"{self.base_url}/sync", self.signed_params(params, method=method))
        body = payload.get(method.replace(".", "_") + "_response")
        if not isinstance(body, dict):
            raise SupplierTransientError(f"{method}: answer has no response object", raw=payload)
        return body

    def call_system(self, api_path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """A /rest system call (auth): the path is part of the signature, no access token."""
        form = self.signed_params(params, api_path=api_path, with_token=False)
        return self._post(f"{self.base_url}/rest{api_path}", form)

    # -- business calls --

    def create_order(self, *, out_order_id: str, address: Address, lines: Iterable[LineItem],
                     logistics_service: str | None = None, pay_currency: str | None = None,
                     try_to_pay: bool | None = None) -> PlacedOrder:
        items = [
            {name: value for name, value in {
                "product_id": line.supplier_sku,
                "product_count": line.quantity,
                "sku_attr": line.variant,
                "logistics_service_name": logistics_service,
                "order_memo": line.memo,
            }.items() if value not in (None, "")}
            for line in lines
        ]
        params: dict[str, Any] = {
            "param_place_order_request4_open_api_d_t_o": {
                "out_order_id": out_order_id,
                "logistics_address": logistics_address(address),
                "product_items": items,
            }
        }
        payment = {k: v for k, v in {"pay_currency": pay_currency, "try_to_pay": try_to_pay}.items() if v is not None}
        if payment:
            params["ds_extend_request"] = {"payment": {k: param_text(v) for k, v in payment.items()}}
        result = self.call(ORDER_CREATE, params).get("result") or {}
        if str(result.get("is_success")).lower() != "true":
            raise classify(result.get("error_code"), str(result.get("error_msg") or "order refused"),
                           raw=result, business=True)
        numbers = _listed(result.get("order_list"), "number")
        if not numbers:
            raise SupplierTransientError("order accepted but no order number returned", raw=result)
        return PlacedOrder(reference=out_order_id, external_ids=tuple(str(n) for n in numbers),
                           raw_status="PLACE_ORDER_SUCCESS", state=S.RECEIVED, raw=result)

    def get_order(self, order_id: str) -> OrderSnapshot:
        body = self.call(ORDER_GET, {"single_order_query": {"order_id": order_id}})
        result = body.get("result")
        if not isinstance(result, Mapping) or not result.get("order_status"):
            raise SupplierNotFound(f"AliExpress order {order_id} not found", raw=body)
        return parse_order(order_id, result)

    def get_tracking(self, order_id: str, *, language: str = "en_US") -> list[Parcel]:
        body = self.call(TRACKING_GET, {"ae_order_id": order_id, "language": language})
        return parse_tracking(body.get("result") or {})

    def get_stock(self, product_id: str, *, ship_to_country: str, currency: str = "USD",
                  language: str = "en") -> list[StockLevel]:
        body = self.call(PRODUCT_GET, {"product_id": product_id, "ship_to_country": ship_to_country,
                                       "target_currency": currency, "target_language": language})
        result = body.get("result")
        if not isinstance(result, Mapping):
            raise SupplierNotFound(f"AliExpress product {product_id} not found", raw=body)
        return parse_stock(product_id, result)

    def refresh_token(self, refresh_token: str) -> TokenGrant:
        payload = self.call_system(TOKEN_REFRESH_PATH, {"refresh_token": refresh_token})
        if not payload.get("access_token"):
            raise SupplierAuthError("token refresh answered without an access token", raw=payload)
        grant = _grant(payload, datetime.fromtimestamp(self._clock(), tz=UTC))
        self.access_token = grant.access_token
        return grant
