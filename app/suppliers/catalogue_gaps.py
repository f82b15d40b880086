"""Store catalogue variants no supplier would fill: flagged before any order needs them.

The catalogue is what the inventory sync read from the store (inventory items, one per location,
so a variant may repeat). A variant is a gap when the ordering routing rule (ordering.route) gives
it no supplier: no mapping by variant id or SKU, and no default supplier to take it by SKU.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.inventory.models import InventoryItem
from app.shops.models import Shop
from app.suppliers.mapping import match_keys
from app.suppliers.ordering import default_supplier, route
from app.suppliers.tables import VariantMapping

EVENT = "supplier_mapping.unmapped_variant"


def unmapped_catalogue(session: Session, shop_id: int) -> list[dict[str, Any]]:
    """Every distinct catalogue (variant id, SKU) of the shop that would reach no supplier."""
    default = default_supplier(session, shop_id)
    by_key: dict[str, list[VariantMapping]] = {}
    for row in session.scalars(select(VariantMapping).where(VariantMapping.shop_id == shop_id)
                               .order_by(VariantMapping.priority, VariantMapping.id)):
        by_key.setdefault(row.match_key, []).append(row)
    gaps = []
    for variant_id, sku in session.execute(
        select(InventoryItem.variant_id, InventoryItem.sku).where(InventoryItem.shop_id == shop_id)
        .distinct().order_by(InventoryItem.variant_id, InventoryItem.sku)
    ):
        keys = match_keys(variant_id, sku)
        if not keys:
            continue  # nothing an order line could be matched by
        found = [mapping for key in keys for mapping in by_key.get(key, [])]
        if route(found, default) is None:
            gaps.append({"variant_id": variant_id, "sku": sku, "key": keys[0], "title": None,
                         "variant_title": None, "source": "catalogue"})
    return gaps


def note_unmapped(session: Session, shop: Shop) -> int:
    """Record one evidence event per catalogue gap the first time it is seen; flushes only."""
    gaps = unmapped_catalogue(session, shop.id)
    if not gaps:
        return 0
    known = set(session.scalars(
        select(EvidenceEvent.data["key"].astext)
        .where(EvidenceEvent.shop_id == shop.id, EvidenceEvent.kind == EVENT)))
    new = [gap for gap in gaps if gap["key"] not in known]
    for gap in new:
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind=EVENT, source="dropguard",
                        data={"key": gap["key"], "variant_id": gap["variant_id"], "sku": gap["sku"]})
    return len(new)
