"""Shops with a catalogue in the sandbox store, mapped to their default supplier."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.db import get_sessionmaker
from app.inventory.models import InventoryItem
from app.shops.models import Shop
from app.suppliers.models import Supplier
from app.suppliers.tables import VariantMapping
from tests.suppliers.e2e import live_url


def store(path: str) -> str:
    return f"{live_url()}/sandbox/shopify{path}"


def seed(shop: Shop, items: list[dict[str, Any]] | None = None, *, generate: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"shop": shop.domain, "items": items or []}
    if generate:
        body["generate"] = generate
    response = httpx.post(store("/_control/inventory"), json=body, timeout=120)
    response.raise_for_status()
    return response.json()


def map_all(shop: Shop, created: list[dict[str, Any]], *, unit_cost: str = "8.00", prefix: str = "SUP-") -> Supplier:
    """Map every created item to the shop's default supplier as `prefix + sku`."""
    with get_sessionmaker()() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default))
        rows = [
            {"shop_id": shop.id, "supplier_id": supplier.id, "match_key": f"v:{item['variant_id']}",
             "variant_id": item["variant_id"], "sku": item["sku"], "supplier_sku": prefix + item["sku"],
             "priority": 1, "unit_cost": Decimal(unit_cost), "currency": "USD"}
            for item in created
        ]
        for start in range(0, len(rows), 2000):
            session.execute(insert(VariantMapping).values(rows[start:start + 2000]))
        session.commit()
        return supplier


def levels(shop: Shop) -> dict[str, int]:
    response = httpx.get(store("/_control/inventory"), params={"shop": shop.domain}, timeout=60)
    response.raise_for_status()
    return {level["sku"]: level["available"] for level in response.json()["levels"]}


def set_level(shop: Shop, inventory_item_gid: str, available: int) -> None:
    item_id = int(inventory_item_gid.rsplit("/", 1)[-1])
    httpx.post(store("/_control/inventory/level"),
               json={"shop": shop.domain, "inventory_item_id": item_id, "available": available},
               timeout=10).raise_for_status()


def usage(shop: Shop) -> dict[str, Any]:
    response = httpx.get(store("/_control/usage"), params={"shop": shop.domain}, timeout=60)
    response.raise_for_status()
    return response.json()


def throttle(shop: Shop, **bucket: Any) -> dict[str, Any]:
    response = httpx.post(store("/_control/throttle"), json={"shop": shop.domain, **bucket}, timeout=10)
    response.raise_for_status()
    return response.json()


def items(shop: Shop) -> dict[str, InventoryItem]:
    with get_sessionmaker()() as session:
        return {i.sku: i for i in session.scalars(select(InventoryItem).where(InventoryItem.shop_id == shop.id))}
