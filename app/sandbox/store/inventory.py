"""The store emulator's inventory: items, one location per shop, available quantities, in Redis.

inventorySetQuantities is a compare-and-set over the whole batch (one Lua script): when any
`changeFromQuantity` differs from the stored quantity, nothing is applied and every stale item is
reported (CHANGE_FROM_QUANTITY_STALE), as Shopify refuses the mutation. A repeat with the same
`@idempotent` key returns the first answer without applying anything again.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from app.db import utcnow
from app.redis import get_redis
from app.sandbox.store import state
from app.sandbox.store.fulfil import parse_gid

IDEMPOTENCY_TTL = 24 * 3600
MAX_QUANTITIES = 250
# The `reason` values Shopify accepts for inventory changes.
REASONS = frozenset({
    "correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
    "movement_received", "movement_canceled", "other", "promotion", "quality_control", "received",
    "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
    "shrinkage",
})
NAMES = frozenset({"available", "on_hand"})

# All or nothing: compare every item first, then write every item. ARGV: n, then per item its id,
# its changeFromQuantity ("" when explicitly null: no compare) and its new quantity.
_SET = """
local n = tonumber(ARGV[1])
local stale = {}
local before = {}
for i = 1, n do
  local base = 1 + (i - 1) * 3
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[base + 1]) or '0')
  before[i] = current
  local from = ARGV[base + 2]
  if from ~= '' and tonumber(from) ~= current then
    table.insert(stale, i - 1)
    table.insert(stale, current)
  end
end
if #stale > 0 then
  return {0, stale}
end
for i = 1, n do
  local base = 1 + (i - 1) * 3
  redis.call('HSET', KEYS[1], ARGV[base + 1], ARGV[base + 3])
end
return {1, before}
"""


def k(domain: str, *parts: str) -> str:
    return state.k("inventory", domain, *parts)


def item_gid(item_id: int) -> str:
    return f"gid://shopify/InventoryItem/{item_id}"


def location_gid(location_id: int) -> str:
    return f"gid://shopify/Location/{location_id}"


def level_gid(item_id: int, location_id: int) -> str:
    return f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"


def location(domain: str) -> dict[str, Any]:
    """The shop's one location, created on first use."""
    client = get_redis()
    raw = client.get(k(domain, "location"))
    if raw is None:
        location_id = next(state.next_ids(1))
        client.set(k(domain, "location"), json.dumps({"id": location_id, "name": "Shop location"}), nx=True)
        raw = client.get(k(domain, "location"))
    return json.loads(raw)


def add_items(domain: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create products' inventory items at the shop's location: {sku, price, available}."""
    where = location(domain)
    ids = state.next_ids(2 * len(items))
    created = []
    pipe = get_redis().pipeline(transaction=False)
    for item in items:
        item_id, variant_id = next(ids), next(ids)
        record = {
            "id": item_id, "variant_id": variant_id, "sku": item.get("sku"),
            "price": str(item.get("price") or "0.00"), "tracked": True,
            "created_at": utcnow().isoformat(),
        }
        created.append({**record, "available": int(item.get("available") or 0)})
        pipe.hset(k(domain, "items"), item_id, json.dumps(record))
        pipe.zadd(k(domain, "ids"), {str(item_id): item_id})
        pipe.hset(k(domain, "levels", str(where["id"])), item_id, int(item.get("available") or 0))
        if len(pipe) >= 3000:
            pipe.execute()
    pipe.execute()
    return created


def items_after(domain: str, after: int | None, count: int) -> list[dict[str, Any]]:
    """Up to `count` items in id order after the given id (None: from the start)."""
    client = get_redis()
    low = f"({after}" if after is not None else "-inf"
    ids = client.zrangebyscore(k(domain, "ids"), low, "+inf", start=0, num=count)
    return get_items(domain, [int(i) for i in ids])


def get_items(domain: str, item_ids: list[int]) -> list[dict[str, Any]]:
    if not item_ids:
        return []
    raw = get_redis().hmget(k(domain, "items"), item_ids)
    return [json.loads(r) for r in raw if r]


def update_item(domain: str, item_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Change fields of one item record (cost, tracked, sku); None when the shop has no such item."""
    client = get_redis()
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(k(domain, "items"))
                raw = pipe.hget(k(domain, "items"), item_id)
                if raw is None:
                    pipe.unwatch()
                    return None
                record = {**json.loads(raw), **changes}
                pipe.multi()
                pipe.hset(k(domain, "items"), item_id, json.dumps(record))
                pipe.execute()
                return record
            except redis.WatchError:
                continue


def item_ids_for_skus(domain: str, skus: set[str], limit: int) -> list[int]:
    """Sandbox search by SKU: a scan of the shop's items (fine at emulator sizes)."""
    found = []
    for item_id, raw in get_redis().hscan_iter(k(domain, "items"), count=1000):
        if json.loads(raw).get("sku") in skus:
            found.append(int(item_id))
    return sorted(found)[:limit]


def quantities(domain: str, location_id: int, item_ids: list[int]) -> dict[int, int | None]:
    if not item_ids:
        return {}
    raw = get_redis().hmget(k(domain, "levels", str(location_id)), item_ids)
    return {item_id: (int(value) if value is not None else None) for item_id, value in zip(item_ids, raw, strict=True)}


def set_level(domain: str, item_id: int, available: int) -> None:
    """Control: a sale or a merchant's edit changes the quantity behind our back."""
    get_redis().hset(k(domain, "levels", str(location(domain)["id"])), item_id, available)


def levels(domain: str) -> list[dict[str, Any]]:
    where = location(domain)
    client = get_redis()
    stored = client.hgetall(k(domain, "levels", str(where["id"])))
    items = {int(i): json.loads(raw) for i, raw in client.hgetall(k(domain, "items")).items()}
    return [
        {"inventory_item_id": item_id, "sku": items.get(item_id, {}).get("sku"), "available": int(value),
         "cost": items.get(item_id, {}).get("cost")}
        for item_id, value in sorted((int(i), v) for i, v in stored.items())
    ]


def _error(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def set_quantities(domain: str, payload: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
    """inventorySetQuantities: {group, user_errors} (group None when nothing was applied)."""
    client = get_redis()
    if idempotency_key:
        previous = client.get(k(domain, "idempotency", idempotency_key))
        if previous:
            return json.loads(previous)
    result = _apply(domain, payload)
    if idempotency_key:
        client.set(k(domain, "idempotency", idempotency_key), json.dumps(result), ex=IDEMPOTENCY_TTL, nx=True)
        result = json.loads(client.get(k(domain, "idempotency", idempotency_key)))
    return result


def _check(domain: str, payload: dict[str, Any]) -> tuple[list[tuple[int, str, int]], list[dict], int]:
    where = location(domain)
    errors: list[dict[str, Any]] = []
    if payload["name"] not in NAMES:
        errors.append(_error(["input", "name"], "The quantity name must be either 'available' or 'on_hand'.",
                             "INVALID_NAME"))
    if payload["reason"] not in REASONS:
        errors.append(_error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"))
    rows: list[tuple[int, str, int]] = []
    quantities_in = payload["quantities"]
    ids = [parse_gid(q["inventoryItemId"], "InventoryItem") for q in quantities_in]
    known = {item["id"] for item in get_items(domain, [i for i in ids if i is not None])}
    for index, (item_id, quantity) in enumerate(zip(ids, quantities_in, strict=True)):
        field = ["input", "quantities", str(index)]
        if "changeFromQuantity" not in quantity and not payload.get("ignoreCompareQuantity"):
            errors.append(_error(field + ["changeFromQuantity"],
                                 "changeFromQuantity is required; pass null to skip the check.",
                                 "CHANGE_FROM_QUANTITY_REQUIRED"))
            continue
        if item_id is None or item_id not in known:
            errors.append(_error(field + ["inventoryItemId"], "The specified inventory item could not be found.",
                                 "INVALID_INVENTORY_ITEM"))
            continue
        if parse_gid(quantity["locationId"], "Location") != where["id"]:
            errors.append(_error(field + ["locationId"], "The specified location could not be found.",
                                 "INVALID_LOCATION"))
            continue
        if quantity["quantity"] < 0 and payload["name"] == "on_hand":
            errors.append(_error(field + ["quantity"], "The quantity can't be negative.",
                                 "INVALID_QUANTITY_NEGATIVE"))
            continue
        change_from = quantity.get("changeFromQuantity")
        rows.append((item_id, "" if change_from is None else str(change_from), quantity["quantity"]))
    return rows, errors, where["id"]


def _apply(domain: str, payload: dict[str, Any]) -> dict[str, Any]:
    if len(payload["quantities"]) > MAX_QUANTITIES:
        return {"group": None, "user_errors": [_error(
            ["input", "quantities"],
            f"The input array size of {len(payload['quantities'])} is greater than the maximum allowed of "
            f"{MAX_QUANTITIES}.", "INVALID_INPUT")]}
    rows, errors, location_id = _check(domain, payload)
    if errors:
        return {"group": None, "user_errors": errors}
    argv: list[Any] = [len(rows)]
    for row in rows:
        argv.extend(row)
    ok, values = get_redis().eval(_SET, 1, k(domain, "levels", str(location_id)), *argv)
    if not ok:
        stale = [(int(values[i]), int(values[i + 1])) for i in range(0, len(values), 2)]
        return {"group": None, "user_errors": [
            _error(["input", "quantities", str(index), "changeFromQuantity"],
                   f"The specified compare quantity is stale: the current quantity is {current}.",
                   "CHANGE_FROM_QUANTITY_STALE")
            for index, current in stale
        ]}
    now = utcnow().isoformat()
    group_id = next(state.next_ids(1))
    changes = [
        {"item_id": item_id, "location_id": location_id, "name": payload["name"],
         "delta": quantity - int(before), "after": quantity}
        for (item_id, _, quantity), before in zip(rows, values, strict=True)
    ]
    return {"group": {"id": group_id, "created_at": now, "reason": payload["reason"],
                      "reference": payload.get("referenceDocumentUri"), "changes": changes},
            "user_errors": []}
