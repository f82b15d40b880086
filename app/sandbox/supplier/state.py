"""The supplier emulator's orders and behaviours, in Redis so every web process shares them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from app.db import utcnow
from app.redis import get_redis, key

DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "latency_ms": 0,
    "fail_next": 0,
    "hang_next": 0,
    "hang_ms": 30000,
    "confirm_after_s": 1.0,
    "ship_after_s": 2.0,
    "auto_advance": True,
}
LIST_LIMIT = 1000
# A long-running demo must not fill Redis; a month is longer than any order's life here.
ORDER_TTL = 30 * 24 * 3600

# Decrement a counter only while it is positive, so concurrent requests each take one unit.
_TAKE = """
local left = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if left > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], left - 1)
  return 1
end
return 0
"""


def _key(*parts: str) -> str:
    return key("sandbox", "supplier", *parts)


def _now() -> str:
    return utcnow().isoformat()


def create_order(body: dict[str, Any]) -> dict[str, Any]:
    client = get_redis()
    order_id = f"SUP-{client.incr(_key('seq'))}"
    order = {
        "id": order_id,
        "reference": body["reference"],
        "shop": body["shop"],
        "status": "received",
        "lines": body["lines"],
        "ship_to": body["ship_to"],
        "callback_url": body["callback_url"],
        "tracking_number": None,
        "carrier": None,
        "tracking_url": None,
        "created_at": _now(),
        "confirmed_at": None,
        "shipped_at": None,
        "cancelled_at": None,
    }
    pipe = client.pipeline(transaction=True)
    pipe.set(_key("order", order_id), json.dumps(order), ex=ORDER_TTL)
    pipe.rpush(_key("orders"), order_id)
    pipe.rpush(_key("ref", order["reference"]), order_id)
    pipe.rpush(_key("shop", order["shop"]), order_id)
    pipe.execute()
    return order


def get_order(order_id: str) -> dict[str, Any] | None:
    raw = get_redis().get(_key("order", order_id))
    return json.loads(raw) if raw else None


def find_orders(*, reference: str | None = None, shop: str | None = None) -> list[dict[str, Any]]:
    client = get_redis()
    if reference:
        ids = client.lrange(_key("ref", reference), 0, -1)
    elif shop:
        ids = client.lrange(_key("shop", shop), -LIST_LIMIT, -1)
    else:
        ids = client.lrange(_key("orders"), -LIST_LIMIT, -1)
    if not ids:
        return []
    orders = [json.loads(raw) for raw in client.mget([_key("order", i.decode()) for i in ids]) if raw]
    if shop:
        orders = [order for order in orders if order["shop"] == shop]
    return orders


def update_order(
    order_id: str, change: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any] | None, bool]:
    """Read-modify-write under WATCH; `change` mutates the order and says whether it changed.
    Returns the order as stored afterwards (None if unknown) and whether this call changed it."""
    order_key = _key("order", order_id)
    with get_redis().pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(order_key)
                raw = pipe.get(order_key)
                if raw is None:
                    pipe.unwatch()
                    return None, False
                order = json.loads(raw)
                if not change(order):
                    pipe.unwatch()
                    return order, False
                pipe.multi()
                pipe.set(order_key, json.dumps(order), ex=ORDER_TTL)
                pipe.execute()
                return order, True
            except redis.WatchError:
                continue


def public(order: dict[str, Any]) -> dict[str, Any]:
    """The order as the protocol shows it (the callback URL is ours, not the client's business)."""
    return {k: v for k, v in order.items() if k != "callback_url"}


def behaviour() -> dict[str, Any]:
    client = get_redis()
    stored = {k.decode(): json.loads(v) for k, v in client.hgetall(_key("behaviour")).items()}
    merged = {**DEFAULT_BEHAVIOUR, **stored}
    merged["out_of_stock"] = sorted(s.decode() for s in client.smembers(_key("out_of_stock")))
    return merged


def set_behaviour(changes: dict[str, Any]) -> dict[str, Any]:
    client = get_redis()
    out_of_stock = changes.pop("out_of_stock", None)
    pipe = client.pipeline(transaction=True)
    if changes:
        pipe.hset(_key("behaviour"), mapping={k: json.dumps(v) for k, v in changes.items()})
    if out_of_stock is not None:
        # The list given replaces the previous one, so `[]` puts everything back in stock.
        pipe.delete(_key("out_of_stock"))
        if out_of_stock:
            pipe.sadd(_key("out_of_stock"), *out_of_stock)
    pipe.execute()
    return behaviour()


def take(counter: str) -> bool:
    """Consume one unit of fail_next / hang_next; True when this request got one."""
    return bool(get_redis().eval(_TAKE, 1, _key("behaviour"), counter))


def out_of_stock(skus: list[str]) -> str | None:
    if not skus:
        return None
    flags = get_redis().smismember(_key("out_of_stock"), skus)
    return next((sku for sku, flag in zip(skus, flags, strict=True) if flag), None)


def reset(*, orders: bool = False) -> None:
    client = get_redis()
    client.delete(_key("behaviour"), _key("out_of_stock"))
    if orders:
        # Orders are kept by default: other tests and the demo may be using them concurrently.
        # The id sequence survives, so new ids never collide with ones our database already holds.
        keep = _key("seq").encode()
        doomed = [k for k in client.scan_iter(match=_key("*"), count=1000) if k != keep]
        for start in range(0, len(doomed), 500):
            client.delete(*doomed[start : start + 500])
