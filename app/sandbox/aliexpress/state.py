"""State and behaviour of the sandbox AliExpress gateway: apps, tokens, catalogue, orders (Redis)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from app.redis import get_redis, key

SANDBOX_APP_KEY = "500100"
# Public by design: the sandbox account every local run and test starts with.
SANDBOX_APP_SECRET = "sandbox-aliexpress-app-secret-0001"  # noqa: S105
SANDBOX_ACCESS_TOKEN = "50000sandboxAEaccessToken0001"  # noqa: S105
SANDBOX_REFRESH_TOKEN = "50001sandboxAErefreshToken0001"  # noqa: S105
TIMESTAMP_WINDOW_SECONDS = 7200
ACCESS_TTL, REFRESH_TTL = 30 * 86400, 180 * 86400

# product_id -> seller and SKUs; stock lives apart in a hash so that decrements are atomic.
CATALOG: dict[str, dict[str, Any]] = {
    "1005001000000001": {"seller_id": "2001", "subject": "Sandbox phone stand", "skus": [
        {"sku_id": "12000000000000011", "sku_attr": "14:193#Black", "stock": 100, "price": "4.20"},
        {"sku_id": "12000000000000012", "sku_attr": "14:200004889#White", "stock": 5, "price": "4.20"}]},
    "1005001000000002": {"seller_id": "2002", "subject": "Sandbox cable", "skus": [
        {"sku_id": "12000000000000021", "sku_attr": "", "stock": 50, "price": "1.99"}]},
    "1005001000000003": {"seller_id": "2001", "subject": "Sandbox sold-out lamp", "skus": [
        {"sku_id": "12000000000000031", "sku_attr": "", "stock": 0, "price": "9.90"}]},
}
LIFECYCLE = ["PLACE_ORDER_SUCCESS", "RISK_CONTROL", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_ACCEPT_GOODS", "FINISH"]
STATUSES = set(LIFECYCLE) | {"WAIT_SELLER_EXAMINE_MONEY", "SELLER_PART_SEND_GOODS", "FUND_PROCESSING",
                             "IN_CANCEL", "IN_ISSUE", "IN_FROZEN"}
SHIPPED = {"SELLER_PART_SEND_GOODS", "WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING"}
_TAKE = "local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') " \
        "if v > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -1) return 1 end return 0"


def state_key(*parts: str) -> str:
    return key("sandbox", "aliexpress", *parts)


def clock() -> float:
    return time.time()


def seed() -> None:
    r = get_redis()
    if not r.set(state_key("seeded"), "1", nx=True):
        return
    add_app(SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_ACCESS_TOKEN, SANDBOX_REFRESH_TOKEN)
    for product_id, product in CATALOG.items():
        r.hset(state_key("products"), product_id, json.dumps(product))
        for sku in product["skus"]:
            r.hset(state_key("stock"), f"{product_id}|{sku['sku_attr']}", sku["stock"])


def add_app(app_key: str, app_secret: str, access_token: str, refresh_token: str) -> None:
    r, now = get_redis(), clock()
    r.hset(state_key("apps"), app_key, app_secret)
    r.hset(state_key("tokens"), access_token, json.dumps({"app_key": app_key, "expires_at": now + ACCESS_TTL}))
    r.hset(state_key("refresh"), refresh_token, json.dumps({"app_key": app_key, "expires_at": now + REFRESH_TTL}))


def reset() -> None:
    r = get_redis()
    for name in r.scan_iter(match=state_key("*"), count=500):
        r.delete(name)
    seed()


def take(knob: str, app_key: str | None = None) -> bool:
    """Spend one of a one-shot knob: the calling app's own first, then the gateway-wide one."""
    if app_key and get_redis().eval(_TAKE, 1, state_key("behaviour", app_key), knob):
        return True
    return bool(get_redis().eval(_TAKE, 1, state_key("behaviour"), knob))


def behaviour() -> dict[str, int]:
    return {k.decode(): int(v) for k, v in get_redis().hgetall(state_key("behaviour")).items()}


# ---- gateway checks ------------------------------------------------------------------------------


class GatewayError(Exception):
    def __init__(self, code: str, message: str, kind: str = "ISV") -> None:
        self.code, self.message, self.kind = code, message, kind


def _expected_sign(secret: str, params: dict[str, str], api_path: str | None) -> str:
    # Written out here rather than imported from the client module, so that a mistake in one is
    # caught by the other instead of being mirrored.
    text = (api_path or "") + "".join(k + params[k] for k in sorted(params) if k != "sign")
    return hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def _timestamp_ok(value: str) -> bool:
    try:
        if value.isdigit():
            moment = int(value) / 1000
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        return False
    return abs(clock() - moment) <= TIMESTAMP_WINDOW_SECONDS


def check_request(params: dict[str, str], api_path: str | None) -> str:
    """The app key of a request that passes the gateway, or a GatewayError."""
    r = get_redis()
    app_key = params.get("app_key", "")
    if not app_key:
        raise GatewayError("MissingAppKey", "app_key is required")
    secret = r.hget(state_key("apps"), app_key)
    if secret is None:
        raise GatewayError("InvalidAppKey", "Specified app key is invalid")
    if not _timestamp_ok(params.get("timestamp", "")):
        raise GatewayError("InvalidTimestamp", "timestamp is missing or more than 7200 seconds from UTC")
    if params.get("sign_method") != "sha256":
        raise GatewayError("InvalidSignMethod", "sign_method must be sha256")
    expected = _expected_sign(secret.decode(), params, api_path)
    if not hmac.compare_digest(expected, params.get("sign", "")):
        raise GatewayError("IncompleteSignature", "The request signature does not conform to platform standards")
    return app_key


def check_token(params: dict[str, str], app_key: str) -> None:
    token = params.get("access_token") or params.get("session")
    if not token:
        raise GatewayError("MissingAccessToken", "access_token is required for this API")
    raw = get_redis().hget(state_key("tokens"), token)
    info = json.loads(raw) if raw else None
    if not info or info["app_key"] != app_key or info["expires_at"] < clock():
        raise GatewayError("IllegalAccessToken", "The specified access token is invalid or expired")


# ---- DS methods ----------------------------------------------------------------------------------


def _order(order_id: str, app_key: str) -> dict[str, Any] | None:
    raw = get_redis().hget(state_key("orders"), order_id)
    order = json.loads(raw) if raw else None
    return order if order and order["app_key"] == app_key else None


def save_order(order: dict[str, Any]) -> None:
    get_redis().hset(state_key("orders"), order["order_id"], json.dumps(order))


def _address_error(address: dict[str, Any]) -> str | None:
    if len(str(address.get("country") or "")) != 2:
        return "Please select a Country/Region"
    if not address.get("province"):
        return "Please select a State/Province/County"
    if not address.get("city"):
        return "Please enter a City"
    if not address.get("address"):
        return "Please enter a street address"
    if not (address.get("contact_person") or address.get("full_name")):
        return "Please enter a contact name"
    if not address.get("zip"):
        return "Please enter a ZIP/postal code"
    return None


def _reserve(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """Take stock for every item or for none; returns the resolved items or a DS error result."""
    r, taken, resolved = get_redis(), [], []
    for item in items:
        raw = r.hget(state_key("products"), str(item.get("product_id")))
        if raw is None:
            error = {"error_code": "PRODUCT_NOT_EXIST", "error_msg": f"product {item.get('product_id')} not found"}
            break
        product, attr = json.loads(raw), str(item.get("sku_attr") or "")
        skus = [s for s in product["skus"] if s["sku_attr"] == attr] or (
            product["skus"] if not attr and len(product["skus"]) == 1 else [])
        count = str(item.get("product_count") or "")
        count = int(count) if count.isdigit() else 0
        if not skus or count < 1:
            error = {"error_code": "SKU_NOT_EXIST", "error_msg": f"sku {attr!r} not found or count < 1"}
            break
        field = f"{item['product_id']}|{skus[0]['sku_attr']}"
        if r.hincrby(state_key("stock"), field, -count) < 0:
            r.hincrby(state_key("stock"), field, count)
            error = {"error_code": "INVENTORY_HOLD_ERROR", "error_msg": "The inventory is not enough"}
            break
        taken.append((field, count))
        resolved.append({**item, "sku_attr": skus[0]["sku_attr"], "seller_id": product["seller_id"],
                         "price": skus[0]["price"]})
    else:
        return resolved, None
    for field, count in taken:
        r.hincrby(state_key("stock"), field, count)
    return [], {"is_success": False, **error}


def _create(params: dict[str, str], app_key: str) -> dict[str, Any]:
    try:
        request = json.loads(params.get("param_place_order_request4_open_api_d_t_o") or "")
        extend = json.loads(params.get("ds_extend_request") or "{}")
    except json.JSONDecodeError:
        raise GatewayError("InvalidParameter", "param_place_order_request4_open_api_d_t_o is not JSON") from None
    if not isinstance(request, dict) or not isinstance(extend, dict):
        raise GatewayError("InvalidParameter", "param_place_order_request4_open_api_d_t_o must be a JSON object")
    address, items = request.get("logistics_address"), request.get("product_items")
    if not isinstance(address, dict) or not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise GatewayError("InvalidParameter", "logistics_address must be an object, product_items a list of objects")
    problem = _address_error(address)
    if problem:
        return {"result": {"is_success": False, "error_code": "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL",
                           "error_msg": problem}}
    resolved, error = _reserve(items)
    if error:
        return {"result": error}
    payment = extend.get("payment") if isinstance(extend.get("payment"), dict) else {}
    paid = str(payment.get("try_to_pay", "")).lower() == "true"
    by_seller: dict[str, list[dict[str, Any]]] = {}
    for item in resolved:
        by_seller.setdefault(item["seller_id"], []).append(item)
    numbers = []
    for seller_id, seller_items in by_seller.items():
        order_id = str(8100000000000000 + get_redis().incr(state_key("seq")))
        save_order({"order_id": order_id, "app_key": app_key, "out_order_id": request.get("out_order_id"),
               "seller_id": seller_id, "items": seller_items, "country": address.get("country"),
               "order_status": "RISK_CONTROL" if paid else "PLACE_ORDER_SUCCESS", "end_reason": None,
               "gmt_create": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"), "logistics_no": None,
               "tracking": []})
        numbers.append(int(order_id))
    return {"result": {"is_success": True, "order_list": {"number": numbers}}}


def _order_get(params: dict[str, str], app_key: str) -> dict[str, Any]:
    try:
        query = json.loads(params.get("single_order_query") or "{}")
    except json.JSONDecodeError:
        raise GatewayError("InvalidParameter", "single_order_query is not JSON") from None
    query = (query[0] if query else {}) if isinstance(query, list) else query
    order = _order(str(query.get("order_id") if isinstance(query, dict) else ""), app_key)
    if not order:
        return {}
    result: dict[str, Any] = {
        "order_status": order["order_status"], "gmt_create": order["gmt_create"],
        "logistics_status": "SELLER_SEND_GOODS" if order["logistics_no"] else "NO_LOGISTICS",
        "child_order_list": {"aeop_child_order_info": [
            {"product_id": int(i["product_id"]), "product_count": int(i["product_count"]),
             "sku_attr": i["sku_attr"]} for i in order["items"]]},
    }
    if order["end_reason"]:
        result["end_reason"] = order["end_reason"]
    if order["logistics_no"]:
        result["logistics_info_list"] = {"aeop_order_logistics_info": [
            {"logistics_no": order["logistics_no"], "logistics_service": "CAINIAO_STANDARD"}]}
    return {"result": result}


def _tracking_get(params: dict[str, str], app_key: str) -> dict[str, Any]:
    order = _order(str(params.get("ae_order_id")), app_key)
    if not order or not order["logistics_no"]:
        return {"result": {"ret": False, "code": "1001", "msg": "TRACKING DATA NOT FOUND"}}
    nodes = [{"time_stamp": n["ms"], "tracking_name": n["name"], "tracking_detail_desc": n["desc"]}
             for n in reversed(order["tracking"])]  # newest first, like the real answer
    return {"result": {"ret": True, "code": "0", "data": {"tracking_detail_line_list": {"tracking_detail": [
        {"mail_no": order["logistics_no"], "carrier_name": "AliExpress Standard Shipping",
         "detail_node_list": {"detail_node": nodes}}]}}}}


def _product_get(params: dict[str, str], app_key: str) -> dict[str, Any]:
    r = get_redis()
    raw = r.hget(state_key("products"), str(params.get("product_id")))
    if raw is None:
        return {"rsp_code": 404, "rsp_msg": "product not found"}
    product, product_id = json.loads(raw), str(params.get("product_id"))
    skus = [{"sku_id": s["sku_id"], "id": s["sku_attr"], "sku_attr": s["sku_attr"],
             "sku_available_stock": max(int(r.hget(state_key("stock"), f"{product_id}|{s['sku_attr']}") or 0), 0),
             "offer_sale_price": s["price"], "sku_price": s["price"], "currency_code": "USD"}
            for s in product["skus"]]
    return {"rsp_code": 200, "rsp_msg": "Call succeeds", "result": {
        "ae_item_base_info_dto": {"product_id": int(product_id), "subject": product["subject"]},
        "ae_item_sku_info_dtos": {"ae_item_sku_info_d_t_o": skus}}}


METHODS = {
    "aliexpress.ds.order.create": _create,
    "aliexpress.trade.ds.order.get": _order_get,
    "aliexpress.ds.order.tracking.get": _tracking_get,
    "aliexpress.ds.product.get": _product_get,
}


def token_refresh(params: dict[str, str], app_key: str) -> dict[str, Any]:
    r, now = get_redis(), clock()
    raw = r.hget(state_key("refresh"), params.get("refresh_token", ""))
    info = json.loads(raw) if raw else None
    if not info or info["app_key"] != app_key or info["expires_at"] < now:
        raise GatewayError("IllegalRefreshToken", "The specified refresh token is invalid or expired")
    r.hdel(state_key("refresh"), params["refresh_token"])
    access, refresh = "50000" + secrets.token_hex(16), "50001" + secrets.token_hex(16)
    add_app(app_key, r.hget(state_key("apps"), app_key).decode(), access, refresh)
    return {"access_token": access, "refresh_token": refresh, "expires_in": ACCESS_TTL,
            "refresh_expires_in": REFRESH_TTL, "expire_time": int((now + ACCESS_TTL) * 1000),
            "refresh_token_valid_time": int((now + REFRESH_TTL) * 1000), "user_id": "3000" + app_key,
            "account_platform": "buyerApp", "code": "0"}


# ---- lifecycle (driven by the control endpoints) -----------------------------------------------


def advance(order: dict[str, Any], to: str | None, end_reason: str | None, event: str | None) -> None:
    ms = int(clock() * 1000)
    if to is None and event:
        order["tracking"].append({"ms": ms, "name": "Update", "desc": event})
        return
    current = order["order_status"]
    if current == "FINISH":
        raise HTTPException(409, "order is finished")
    target = to or LIFECYCLE[LIFECYCLE.index(current) + 1 if current in LIFECYCLE else -1]
    if target not in STATUSES:
        raise HTTPException(400, f"unknown order_status {target}")
    if target in SHIPPED and not order["logistics_no"]:
        # Cainiao's shape: LP and fourteen digits.
        order["logistics_no"] = "LP" + f"{ms % 10**12:012d}" + f"{secrets.randbelow(100):02d}"
        order["tracking"].append({"ms": ms, "name": "Shipped", "desc": event or "Parcel handed to the carrier"})
    if target == "FINISH":
        shipped = current in SHIPPED
        order["end_reason"] = end_reason or ("buyer_accept_goods" if shipped else "cancel_order_close_trade")
        if order["end_reason"].startswith("buyer_accept_goods"):
            order["tracking"].append({"ms": ms, "name": "Delivered", "desc": event or "Delivered"})
    order["order_status"] = target

