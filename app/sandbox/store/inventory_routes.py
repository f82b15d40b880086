"""Control API of the store emulator's inventory (sandbox only, unsigned), under /sandbox/shopify.

  POST /_control/inventory {shop, items: [{sku, price, available}]}
       or {shop, generate: {count, sku_prefix, price, available}}    creates items at the location
  GET  /_control/inventory?shop=                                      levels of every item
  POST /_control/inventory/level {shop, inventory_item_id, available} a sale or an edit in the store
  GET  /_control/usage?shop=   POST /_control/usage/reset {shop}      GraphQL cost charged per call
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.sandbox.store import inventory, state, usage

router = APIRouter()

MAX_ITEMS = 25_000


class ItemIn(BaseModel):
    sku: str | None = Field(default=None, max_length=255)
    price: Decimal = Field(default=Decimal("10.00"), ge=0)
    available: int = 0


class GenerateIn(BaseModel):
    count: int = Field(ge=1, le=MAX_ITEMS)
    sku_prefix: str = Field(default="SKU-", max_length=64)
    price: Decimal = Field(default=Decimal("10.00"), ge=0)
    available: int = 0


class InventoryIn(BaseModel):
    shop: str
    items: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    generate: GenerateIn | None = None


class LevelIn(BaseModel):
    shop: str
    inventory_item_id: int
    available: int


class ShopRef(BaseModel):
    shop: str


def _unknown(domain: str) -> JSONResponse | None:
    if state.get_shop(domain) is None:
        return JSONResponse({"error": f"unknown shop {domain}"}, status_code=404)
    return None


@router.post("/_control/inventory")
def add_inventory(body: InventoryIn) -> JSONResponse:
    domain = body.shop.strip().lower()
    if missing := _unknown(domain):
        return missing
    items: list[dict[str, Any]] = [item.model_dump() for item in body.items]
    if body.generate:
        g = body.generate
        items += [{"sku": f"{g.sku_prefix}{n:05d}", "price": g.price, "available": g.available}
                  for n in range(1, g.count + 1)]
    created = inventory.add_items(domain, items)
    where = inventory.location(domain)
    return JSONResponse({
        "location_id": inventory.location_gid(where["id"]), "count": len(created),
        "items": [{"inventory_item_id": inventory.item_gid(c["id"]), "variant_id": c["variant_id"],
                   "sku": c["sku"], "available": c["available"]} for c in created],
    }, status_code=201)


@router.get("/_control/inventory")
def list_inventory(shop: str) -> JSONResponse:
    domain = shop.strip().lower()
    if missing := _unknown(domain):
        return missing
    where = inventory.location(domain)
    levels = inventory.levels(domain)
    return JSONResponse({"location_id": inventory.location_gid(where["id"]), "levels": levels,
                         "count": len(levels)})


@router.post("/_control/inventory/level")
def set_level(body: LevelIn) -> JSONResponse:
    domain = body.shop.strip().lower()
    if missing := _unknown(domain):
        return missing
    if not inventory.get_items(domain, [body.inventory_item_id]):
        return JSONResponse({"error": f"no inventory item {body.inventory_item_id}"}, status_code=404)
    inventory.set_level(domain, body.inventory_item_id, body.available)
    return JSONResponse({"inventory_item_id": body.inventory_item_id, "available": body.available})


@router.get("/_control/usage")
async def get_usage(shop: str) -> dict[str, Any]:
    return await run_in_threadpool(usage.report, shop.strip().lower())


@router.post("/_control/usage/reset")
def reset_usage(body: ShopRef) -> dict[str, Any]:
    usage.reset(body.shop.strip().lower())
    return {"reset": True}
