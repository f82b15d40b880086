"""State and behaviour of the sandbox CJdropshipping API: accounts, tokens, stock, orders, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import HTTPException

from app.config import get_settings
from app.redis import get_redis, key

SANDBOX_API_KEY = "CJ-SANDBOX-API-KEY-0001"
SANDBOX_OPEN_ID = 1234567890123
CJ_TIME = timezone(timedelta(hours=8))
ACCESS_DAYS, REFRESH_DAYS = 15, 180
TOKEN_CALL_INTERVAL = 300
VARIANTS: dict[str, dict[str, Any]] = {  # vid -> price and starting stock
    "CJ-SANDBOX-VID-0001": {"price": "3.50", "stock": 100},
    "CJ-SANDBOX-VID-0002": {"price": "12.00", "stock": 3},
    "CJ-SANDBOX-VID-0003": {"price": "7.25", "stock": 0},
}
LIFECYCLE = ["CREATED", "UNPAID", "UNSHIPPED", "SHIPPED", "DELIVERED"]
CANCELLABLE = {"CREATED", "IN_CART", "UNPAID", "UNSHIPPED"}
REQUIRED = ("orderNumber", "shippingCountryCode", "shippingCountry", "shippingProvince", "shippingCity",
            "shippingCustomerName", "shippingAddress", "logisticName", "fromCountryCode", "products")
_TAKE = "local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') " \
        "if v > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -1) return 1 end return 0"

# deliver(url, body, headers) -> the HTTP status of the answer, 0 when none came.
Deliver = Callable[[str, bytes, dict[str, str]], int]


def state_key(*parts: str) -> str:
    return key("sandbox", "cj", *parts)


def _cj_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(CJ_TIME)).astimezone(CJ_TIME).strftime("%Y-%m-%d %H:%M:%S")


def seed() -> None:
    r = get_redis()
    if not r.set(state_key("seeded"), "1", nx=True):
        return
    r.hset(state_key("accounts"), SANDBOX_API_KEY, SANDBOX_OPEN_ID)
    for vid, variant in VARIANTS.items():
        r.hset(state_key("stock"), vid, variant["stock"])


def reset() -> None:
    r = get_redis()
    for name in r.scan_iter(match=state_key("*"), count=500):
        r.delete(name)
    seed()


def take(knob: str) -> bool:
    return bool(get_redis().eval(_TAKE, 1, state_key("behaviour"), knob))


def behaviour() -> dict[str, int]:
    return {k.decode(): int(v) for k, v in get_redis().hgetall(state_key("behaviour")).items()}


class CJError(Exception):
    def __init__(self, code: int, message: str, http_status: int = 200) -> None:
        self.code, self.message, self.http_status = code, message, http_status


def sign_body(body: bytes, open_id: str) -> str:
    # Independent of the client module on purpose: a mistake in one must not be mirrored here.
    return base64.b64encode(hmac.new(open_id.encode(), body, hashlib.sha256).digest()).decode()


# ---- tokens and accounts -------------------------------------------------------------------------


def _issue(api_key: str) -> dict[str, Any]:
    r, now = get_redis(), datetime.now(CJ_TIME)
    access, refresh = secrets.token_hex(20), secrets.token_hex(20)
    access_until, refresh_until = now + timedelta(days=ACCESS_DAYS), now + timedelta(days=REFRESH_DAYS)
    r.hset(state_key("tokens"), access, json.dumps({"api_key": api_key, "until": access_until.timestamp()}))
    r.hset(state_key("refresh"), refresh, json.dumps({"api_key": api_key, "until": refresh_until.timestamp()}))
    return {"openId": int(r.hget(state_key("accounts"), api_key)), "accessToken": access,
            "accessTokenExpiryDate": access_until.isoformat(timespec="seconds"), "refreshToken": refresh,
            "refreshTokenExpiryDate": refresh_until.isoformat(timespec="seconds"), "createDate": _cj_time(now)}


def get_access_token(body: dict[str, Any]) -> dict[str, Any]:
    api_key = str(body.get("apiKey") or body.get("password") or "")
    if not get_redis().hexists(state_key("accounts"), api_key):
        raise CJError(1600001, "Invalid API key")
    if not get_redis().set(state_key("token_call", api_key), "1", nx=True, ex=TOKEN_CALL_INTERVAL):
        raise CJError(1600200, "Too Many Requests, QPS limit is 1 time/300 seconds", 429)
    return _issue(api_key)


def refresh(body: dict[str, Any]) -> dict[str, Any]:
    raw = get_redis().hget(state_key("refresh"), str(body.get("refreshToken") or ""))
    info = json.loads(raw) if raw else None
    if not info or info["until"] < time.time():
        raise CJError(1600003, "Invalid refresh token")
    get_redis().hdel(state_key("refresh"), body["refreshToken"])
    return _issue(info["api_key"])


def account_for(token: str | None) -> str:
    raw = get_redis().hget(state_key("tokens"), token or "")
    info = json.loads(raw) if raw else None
    if not info:
        raise CJError(1600001, "Invalid access token")
    if info["until"] < time.time():
        raise CJError(1600001, "Access token has expired")
    return info["api_key"]


# ---- orders --------------------------------------------------------------------------------------


def load_order(ref: str, api_key: str) -> dict[str, Any] | None:
    r = get_redis()
    cj_id = r.hget(state_key("numbers", api_key), ref)
    raw = r.hget(state_key("orders"), cj_id.decode() if cj_id else ref)
    order = json.loads(raw) if raw else None
    return order if order and order["api_key"] == api_key else None


def save_order(order: dict[str, Any]) -> None:
    order["updateDate"] = _cj_time()
    get_redis().hset(state_key("orders"), order["orderId"], json.dumps(order))


def public(order: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in order.items() if name not in ("api_key", "events", "trackingStatus")}


def create_order(body: dict[str, Any], api_key: str) -> dict[str, Any]:
    missing = [name for name in REQUIRED if not body.get(name)]
    if missing:
        raise CJError(1600100, "Param error: " + ", ".join(missing) + " required")
    products = body["products"]
    if not isinstance(products, list) or not all(isinstance(p, dict) and p.get("vid") for p in products):
        raise CJError(1600100, "Param error: products must be a list of {vid, quantity}")
    r, number = get_redis(), str(body["orderNumber"])
    cj_id = str(2600000000000000 + r.incr(state_key("seq")))
    if not r.hsetnx(state_key("numbers", api_key), number, cj_id):  # atomic: two racing creates, one wins
        raise CJError(1603000, f"Order number {number} already exists")
    taken: list[tuple[str, int]] = []
    for product in products:
        vid, quantity = str(product["vid"]), product.get("quantity")
        quantity = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 0
        problem = None if vid in VARIANTS and quantity > 0 else f"Variant {vid} not found or quantity < 1"
        if not problem and r.hincrby(state_key("stock"), vid, -quantity) < 0:
            r.hincrby(state_key("stock"), vid, quantity)
            problem = f"Insufficient inventory for variant {vid}"
        if problem:
            for done_vid, done_quantity in taken:
                r.hincrby(state_key("stock"), done_vid, done_quantity)
            r.hdel(state_key("numbers", api_key), number)
            raise CJError(1603000, problem)
        taken.append((vid, quantity))
    items = [{"vid": vid, "quantity": q, "sellPrice": VARIANTS[vid]["price"]} for vid, q in taken]
    amount = sum((Decimal(i["sellPrice"]) * i["quantity"] for i in items), Decimal("0"))
    paid = str(body.get("payType")) == "2"  # pay from balance: cart, confirm and payment in one go
    order = {"orderId": cj_id, "orderNum": number, "api_key": api_key, "orderStatus": "UNSHIPPED" if paid else "CREATED",
             "shippingCountryCode": body["shippingCountryCode"], "logisticName": body["logisticName"],
             "trackNumber": None, "trackingUrl": None, "createDate": _cj_time(), "paymentDate": _cj_time() if paid else None,
             "deliveryDate": None, "completeDate": None, "orderAmount": str(amount), "productList": items,
             "trackingStatus": None, "events": []}
    save_order(order)
    return {"orderId": cj_id, "orderNumber": number, "orderStatus": order["orderStatus"], "orderAmount": str(amount),
            "productAmount": str(amount), "postageAmount": "0.00", "productInfoList": items,
            "shippingToCountryCode": body["shippingCountryCode"]}


def _callbacks(api_key: str, topic: str) -> list[str]:
    raw = get_redis().hget(state_key("callbacks", api_key), topic)
    return json.loads(raw) if raw else [get_settings().public_base + "/webhooks/suppliers/cj"]


def _messages(order: dict[str, Any], *, order_changed: bool, logistic_changed: bool) -> list[tuple[str, dict]]:
    messages = []
    if order_changed:
        messages.append(("order", {"type": "ORDER", "messageType": "UPDATE", "params": {
            "cjOrderId": order["orderId"], "orderNumber": order["orderNum"], "orderStatus": order["orderStatus"],
            "logisticName": order["logisticName"], "trackNumber": order["trackNumber"],
            "trackingUrl": order["trackingUrl"], "createDate": order["createDate"], "updateDate": order["updateDate"],
            "payDate": order["paymentDate"], "deliveryDate": order["deliveryDate"],
            "completeDate": order["completeDate"], "orderItems": order["productList"]}}))
    if logistic_changed and order["trackNumber"]:
        messages.append(("logistics", {"type": "LOGISTIC", "messageType": "UPDATE", "params": {
            "orderId": order["orderId"], "storeOrderNumbers": [order["orderNum"]],
            "logisticName": order["logisticName"], "trackingNumber": order["trackNumber"],
            "trackingUrl": order["trackingUrl"], "trackingProvider": order["logisticName"],
            "trackingStatus": order["trackingStatus"],
            "logisticsTrackEvents": json.dumps(order["events"], separators=(",", ":"))}}))
    return messages


def push(order: dict[str, Any], deliver: Deliver, **changes: bool) -> list[dict[str, Any]]:
    results = []
    for topic, message in _messages(order, **changes):
        results += _send(order["api_key"], topic, message, deliver)
    return results


def _send(api_key: str, topic: str, message: dict[str, Any], deliver: Deliver) -> list[dict[str, Any]]:
    """One signed message to each of the account's URLs for `topic`, logged for redelivery."""
    r, results = get_redis(), []
    open_id = r.hget(state_key("accounts"), api_key).decode()
    envelope = {"messageId": uuid.uuid4().hex, **message, "openId": int(open_id)}
    body = json.dumps(envelope, separators=(",", ":")).encode()
    for url in _callbacks(api_key, topic):
        headers = {"Content-Type": "application/json", "sign": sign_body(body, open_id)}
        record = {"messageId": envelope["messageId"], "type": envelope["type"], "url": url,
                  "status": deliver(url, body, headers), "attempts": 1, "body": body.decode()}
        r.rpush(state_key("deliveries"), json.dumps(record))
        results.append({k: v for k, v in record.items() if k != "body"})
    return results


def push_stock(vid: str, deliver: Deliver) -> list[dict[str, Any]]:
    """CJ's STOCK message for one variant's new level, to every account that subscribed to stock
    news with /webhook/set (the catalogue is shared; CJ sends stock news only when asked to)."""
    r = get_redis()
    level = max(int(r.hget(state_key("stock"), vid) or 0), 0)
    message = {"type": "STOCK", "messageType": "UPDATE",
               "params": {vid: [{"vid": vid, "areaId": 2, "areaEn": "China Warehouse", "storageNum": level}]}}
    results = []
    for api_key in r.hkeys(state_key("accounts")):
        if r.hget(state_key("callbacks", api_key.decode()), "stock") is not None:
            results += _send(api_key.decode(), "stock", message, deliver)
    return results


def drift_stock(rng: random.Random, deliver: Deliver) -> tuple[str, int, list[dict[str, Any]]]:
    """The sandbox's life: one variant sells some units or is restocked, and CJ says so."""
    seed()
    vid = rng.choice(sorted(VARIANTS))
    r = get_redis()
    level = max(int(r.hget(state_key("stock"), vid) or 0), 0)
    change = rng.randint(20, 60) if level < 5 else -rng.randint(1, min(level, 8))
    r.hset(state_key("stock"), vid, level + change)
    return vid, level + change, push_stock(vid, deliver)


def _track(order: dict[str, Any], status: int, activity: str, location: str | None = None) -> None:
    order["trackingStatus"] = status
    order["events"].append({"status": status, "activity": activity, "location": location or "",
                            "eventTime": _cj_time()})


# ---- lifecycle (driven by the control endpoints) -----------------------------------------------


def advance(order: dict[str, Any], change: dict[str, Any]) -> dict[str, bool]:
    status, tracking = order["orderStatus"], change.get("tracking_status")
    if tracking is not None:
        if status not in ("SHIPPED", "DELIVERED"):
            raise HTTPException(409, "tracking updates need a shipped order")
        _track(order, int(tracking), change.get("activity") or f"Tracking status {tracking}", change.get("location"))
        if int(tracking) == 12 and status != "DELIVERED":
            order["orderStatus"], order["completeDate"] = "DELIVERED", _cj_time()
            return {"order_changed": True, "logistic_changed": True}
        return {"order_changed": False, "logistic_changed": True}
    if status in ("DELIVERED", "CANCELLED"):
        raise HTTPException(409, f"order is {status}")
    target = change.get("to") or LIFECYCLE[LIFECYCLE.index(status) + 1 if status in LIFECYCLE else 0]
    if target not in set(LIFECYCLE) | {"IN_CART", "CANCELLED"}:
        raise HTTPException(400, f"unknown orderStatus {target}")
    order["orderStatus"] = target
    if target == "UNSHIPPED":
        order["paymentDate"] = order["paymentDate"] or _cj_time()
    if target == "SHIPPED" and not order["trackNumber"]:
        order["trackNumber"] = "CJPKL" + str(int(time.time() * 1000))[-8:] + secrets.token_hex(2).upper()
        order["trackingUrl"] = "https://www.17track.net/en/track?nums=" + order["trackNumber"]
        order["deliveryDate"] = _cj_time()
        _track(order, 1, "Left the CJ warehouse", "CN")
        return {"order_changed": True, "logistic_changed": True}
    if target == "DELIVERED":
        order["completeDate"] = _cj_time()
        _track(order, 12, "Delivered", order["shippingCountryCode"])
        return {"order_changed": True, "logistic_changed": True}
    if target == "CANCELLED":
        for item in order["productList"]:
            get_redis().hincrby(state_key("stock"), item["vid"], int(item["quantity"]))
    return {"order_changed": True, "logistic_changed": False}


# ---- read-side and small calls -------------------------------------------------------------------


def order_detail(account: str, order_id: str) -> dict[str, Any]:
    order = load_order(order_id, account)
    if order is None:
        raise CJError(1600100, f"Order not found: {order_id}")
    return public(order)


def list_orders(account: str, page: int, size: int, status: str | None) -> dict[str, Any]:
    orders = [json.loads(raw) for raw in get_redis().hvals(state_key("orders"))]
    mine = sorted((o for o in orders if o["api_key"] == account and (not status or o["orderStatus"] == status)),
                  key=lambda o: o["orderId"], reverse=True)
    return {"pageNum": page, "pageSize": size, "total": len(mine),
            "list": [public(o) for o in mine[(page - 1) * size: page * size]]}


def cancel_order(account: str, order_id: str, deliver: Deliver) -> str:
    order = load_order(order_id, account)
    if order is None:
        raise CJError(1600100, f"Order not found: {order_id}")
    if order["orderStatus"] not in CANCELLABLE:
        raise CJError(1603002, f"Order in status {order['orderStatus']} cannot be deleted")
    changes = advance(order, {"to": "CANCELLED"})
    save_order(order)
    push(order, deliver, **changes)
    return order["orderId"]


def track_info(account: str, number: str) -> list[dict[str, Any]]:
    orders = [json.loads(raw) for raw in get_redis().hvals(state_key("orders"))]
    return [{"trackingNumber": o["trackNumber"], "logisticName": o["logisticName"], "trackingFrom": "CN",
             "trackingTo": o["shippingCountryCode"], "deliveryDay": None, "deliveryTime": o["deliveryDate"],
             "trackingStatus": o["trackingStatus"], "trackingUrl": o["trackingUrl"],
             "lastMileCarrier": None, "lastTrackNumber": None}
            for o in orders if o["api_key"] == account and o["trackNumber"] == number]


def stock_by_vid(vid: str) -> list[dict[str, Any]]:
    level = get_redis().hget(state_key("stock"), vid)
    if level is None:
        return []
    available = max(int(level), 0)
    return [{"vid": vid, "areaId": 2, "areaEn": "China Warehouse", "countryCode": "CN",
             "totalInventoryNum": available, "cjInventoryNum": available, "factoryInventoryNum": 0}]


def open_id_of(account: str) -> int:
    return int(get_redis().hget(state_key("accounts"), account))


def set_callbacks(account: str, body: dict[str, Any]) -> bool:
    for topic in ("product", "stock", "order", "logistics"):
        entry = body.get(topic)
        if isinstance(entry, dict):
            urls = entry.get("callbackUrls") if entry.get("type") == "ENABLE" else []
            get_redis().hset(state_key("callbacks", account), topic, json.dumps(list(urls or [])))
    return True
