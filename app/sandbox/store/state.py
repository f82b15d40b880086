"""The store emulator's shops, orders, fulfilment orders and fulfilments, in Redis.

One JSON document per order holds the REST order, its fulfilment orders and its fulfilments, so a
fulfilment is one WATCH/MULTI on one key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis

from app.db import utcnow
from app.redis import get_redis, key

LIST_LIMIT = 1000
# A long-running demo must not fill Redis; a month is longer than any order's life here.
ORDER_TTL = 30 * 24 * 3600


class UnknownShop(Exception):
    pass


def k(*parts: str) -> str:
    return key("sandbox", "shopify", *parts)


def order_key(order_id: int) -> str:
    return k("order", str(order_id))


def next_ids(count: int) -> Iterator[int]:
    """A block of fresh ids. The sequence starts at the clock in milliseconds (13 digits, like
    Shopify's), so ids stay unique even if Redis is emptied while our database keeps old orders."""
    client = get_redis()
    client.set(k("seq"), int(time.time() * 1000), nx=True)
    last = int(client.incrby(k("seq"), count))
    return iter(range(last - count + 1, last + 1))


def next_order_number(domain: str) -> int:
    client = get_redis()
    client.set(k("shop", domain, "number"), 1000, nx=True)
    return int(client.incr(k("shop", domain, "number")))


def save_shop(
    domain: str, access_token: str, *, name: str | None = None, currency: str = "USD",
    webhook_url: str | None = None,
) -> dict[str, Any]:
    client = get_redis()
    previous = get_shop(domain)
    shop = {
        "id": previous["id"] if previous else next(next_ids(1)),
        "domain": domain,
        "name": name or (previous or {}).get("name") or domain.split(".")[0].replace("-", " ").title(),
        "currency": currency,
        "access_token": access_token,
        "webhook_url": webhook_url,
        "created_at": (previous or {}).get("created_at") or utcnow().isoformat(),
    }
    pipe = client.pipeline(transaction=True)
    if previous and previous["access_token"] != access_token:
        pipe.hdel(k("tokens"), previous["access_token"])
    pipe.hset(k("shops"), domain, json.dumps(shop))
    pipe.hset(k("tokens"), access_token, domain)
    pipe.execute()
    return shop


def get_shop(domain: str) -> dict[str, Any] | None:
    raw = get_redis().hget(k("shops"), domain)
    return json.loads(raw) if raw else None


def shop_for_token(token: str | None) -> str | None:
    if not token:
        return None
    domain = get_redis().hget(k("tokens"), token)
    return domain.decode() if domain else None


def revoke_token(domain: str) -> dict[str, Any] | None:
    shop = get_shop(domain)
    if shop:
        get_redis().hdel(k("tokens"), shop["access_token"])
    return shop


def save_new_order(domain: str, document: dict[str, Any]) -> None:
    order_id = document["order"]["id"]
    pipe = get_redis().pipeline(transaction=True)
    pipe.set(order_key(order_id), json.dumps(document), ex=ORDER_TTL)
    pipe.rpush(k("shop", domain, "orders"), order_id)
    for fulfillment_order in document["fulfillment_orders"]:
        pipe.hset(k("fulfillment_orders"), fulfillment_order["id"], order_id)
    pipe.execute()


def get_order(order_id: int) -> dict[str, Any] | None:
    raw = get_redis().get(order_key(order_id))
    return json.loads(raw) if raw else None


def order_id_for_fulfillment_order(fulfillment_order_id: int) -> int | None:
    raw = get_redis().hget(k("fulfillment_orders"), fulfillment_order_id)
    return int(raw) if raw else None


def order_id_for_fulfillment(fulfillment_id: int) -> int | None:
    raw = get_redis().hget(k("fulfillments"), fulfillment_id)
    return int(raw) if raw else None


def index_fulfillment(pipe: redis.client.Pipeline, domain: str, fulfillment_id: int, order_id: int) -> None:
    """Queue the writes that make a new fulfilment findable by id and listable per shop."""
    pipe.hset(k("fulfillments"), fulfillment_id, order_id)
    pipe.rpush(k("shop", domain, "fulfillments"), json.dumps({"id": fulfillment_id, "order_id": order_id}))


def list_fulfillments(domain: str) -> list[dict[str, Any]]:
    """The shop's fulfilments, oldest first, as they are now (read from their orders)."""
    client = get_redis()
    refs = [json.loads(raw) for raw in client.lrange(k("shop", domain, "fulfillments"), -LIST_LIMIT, -1)]
    order_ids = list(dict.fromkeys(ref["order_id"] for ref in refs))
    documents = client.mget([order_key(i) for i in order_ids]) if order_ids else []
    by_id = {
        fulfillment["id"]: fulfillment
        for raw in documents if raw
        for fulfillment in json.loads(raw)["order"]["fulfillments"]
    }
    return [by_id[ref["id"]] for ref in refs if ref["id"] in by_id]


def list_orders(domain: str) -> list[dict[str, Any]]:
    client = get_redis()
    ids = client.lrange(k("shop", domain, "orders"), -LIST_LIMIT, -1)
    if not ids:
        return []
    return [json.loads(raw) for raw in client.mget([order_key(int(i)) for i in ids]) if raw]


def update_order(
    order_id: int,
    change: Callable[[dict[str, Any], redis.client.Pipeline], Any],
    *,
    watch: tuple[str, ...] = (),
) -> Any:
    """Read-modify-write of one order document under WATCH (plus any extra keys). `change`
    mutates the document and returns a result; it may read the watched keys through the pipe
    and queue extra writes by returning them as a list of callables taking the pipe. A falsy
    `write` in the result means nothing is stored."""
    with get_redis().pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(order_key(order_id), *watch)
                raw = pipe.get(order_key(order_id))
                if raw is None:
                    pipe.unwatch()
                    return None
                document = json.loads(raw)
                result = change(document, pipe)
                if not result or not result.get("write"):
                    pipe.unwatch()
                    return result
                pipe.multi()
                pipe.set(order_key(order_id), json.dumps(document), ex=ORDER_TTL)
                for extra in result.get("also", []):
                    extra(pipe)
                pipe.execute()
                return result
            except redis.WatchError:
                continue
