"""Supplier stock and cost in, store quantities out: what each store item should show, and margins.

Supplier stock arrives by webhook (CJ stock messages) or by a scheduled poll (adapters'
get_stock) through `apply_supplier_stock`. The store item's supplier quantity is the sum over
the supplier products mapped to its variant (fallback can order from any of them); its unit cost
is the cost of the first mapped supplier (by priority) that has stock. Items whose published
quantity must change are marked and a publish task is enqueued for the shop (app.inventory.publish).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.evidence import service as evidence
from app.inventory.models import InventoryItem, SupplierStock
from app.outbox.service import enqueue
from app.redis import get_redis, key
from app.shops.models import Shop
from app.suppliers.models import Supplier
from app.suppliers.tables import VariantMapping

PUBLISH_TASK = "inventory.publish"
# A burst of stock messages for one shop enqueues one publish; the beat sweep catches the rest.
PUBLISH_DEBOUNCE_SECONDS = 5


@dataclass(frozen=True)
class StockChange:
    items: int
    quantity_changed: bool
    cost_changed: bool


def safety_buffer(shop: Shop) -> int:
    value = (shop.settings or {}).get("inventory_safety_buffer")
    return int(value) if isinstance(value, int) and value >= 0 else get_settings().inventory_safety_buffer


def margin_floor(shop: Shop) -> float:
    value = (shop.settings or {}).get("margin_floor")
    if isinstance(value, int | float) and 0 <= value < 1:
        return float(value)
    return get_settings().inventory_margin_floor


def target_quantity(supplier_quantity: int | None, buffer: int) -> int | None:
    """What the store should show: the supplier's quantity, or 0 below the safety buffer (a
    supplier's last few units are often already sold elsewhere). None: nothing known yet."""
    if supplier_quantity is None:
        return None
    return 0 if supplier_quantity < max(buffer, 1) else supplier_quantity


def _mappings_for_items(session: Session, shop_id: int, items: list[InventoryItem]) -> dict[int, list[VariantMapping]]:
    """Each item's supplier mappings (by variant id, else by SKU), best priority first."""
    variant_ids = {i.variant_id for i in items if i.variant_id is not None}
    skus = {i.sku for i in items if i.sku}
    if not variant_ids and not skus:
        return {}
    rows = session.scalars(
        select(VariantMapping)
        .where(VariantMapping.shop_id == shop_id,
               or_(VariantMapping.variant_id.in_(variant_ids), VariantMapping.sku.in_(skus)))
        .order_by(VariantMapping.priority, VariantMapping.id)
    ).all()
    by_variant: dict[int, list[VariantMapping]] = {}
    by_sku: dict[str, list[VariantMapping]] = {}
    for m in rows:
        if m.variant_id is not None:
            by_variant.setdefault(m.variant_id, []).append(m)
        elif m.sku:
            by_sku.setdefault(m.sku, []).append(m)
    return {
        item.id: (by_variant.get(item.variant_id) if item.variant_id is not None else None)
        or by_sku.get(item.sku or "", [])
        for item in items
    }


def stock_key(supplier_sku: str, supplier_variant: str | None) -> str:
    """Where one sellable unit's stock is kept: the supplier product, or one variant of it when the
    supplier counts stock per variant under one product (AliExpress: product id and sku_attr)."""
    return f"{supplier_sku}|{supplier_variant}"[:255] if supplier_variant else supplier_sku


def mapping_key(mapping: VariantMapping) -> str:
    return stock_key(mapping.supplier_sku, mapping.supplier_variant)


def _stock_for(session: Session, mappings: list[VariantMapping]) -> dict[tuple[int, str], SupplierStock]:
    pairs = {(m.supplier_id, mapping_key(m)) for m in mappings}
    if not pairs:
        return {}
    rows = session.scalars(
        select(SupplierStock).where(
            SupplierStock.supplier_id.in_({p[0] for p in pairs}),
            SupplierStock.supplier_sku.in_({p[1] for p in pairs}),
        )
    ).all()
    return {(s.supplier_id, s.supplier_sku): s for s in rows if (s.supplier_id, s.supplier_sku) in pairs}


def cost_to_write(item: InventoryItem) -> Decimal | None:
    """The unit cost the store should hold, when it is not the one we last wrote there."""
    if item.unit_cost is None:
        return None
    wanted = Decimal(item.unit_cost).quantize(Decimal("0.01"))
    return None if item.store_cost is not None and Decimal(item.store_cost) == wanted else wanted


def cost_pending():
    """SQL: the item's supplier cost is not yet the one in the store (see cost_to_write)."""
    wanted = func.round(InventoryItem.unit_cost, 2)
    return InventoryItem.unit_cost.is_not(None) & InventoryItem.store_cost.is_distinct_from(wanted)


def recompute(session: Session, shop: Shop, items: list[InventoryItem], *, observed_at: datetime | None = None) -> int:
    """Refresh supplier quantity and unit cost of the items from what suppliers said; mark the
    ones whose store quantity must change. Returns how many need a publish (a quantity or a cost)."""
    if not items:
        return 0
    mappings = _mappings_for_items(session, shop.id, items)
    stock = _stock_for(session, [m for ms in mappings.values() for m in ms])
    buffer, marked = safety_buffer(shop), 0
    for item in items:
        known = [(m, stock.get((m.supplier_id, mapping_key(m)))) for m in mappings.get(item.id, [])]
        reported = [(m, s) for m, s in known if s is not None]
        item.supplier_quantity = sum(max(s.quantity, 0) for _, s in reported) if reported else None
        in_stock = [(m, s) for m, s in reported if s.quantity > 0] or reported
        if in_stock:
            mapping, level = in_stock[0]
            item.unit_cost = level.unit_cost if level.unit_cost is not None else mapping.unit_cost
        elif known:
            item.unit_cost = known[0][0].unit_cost
        target = target_quantity(item.supplier_quantity, buffer)
        # Compared with the store's quantity as last seen or set (sales lower it there too).
        if target is not None and target != item.store_quantity:
            if not item.needs_publish:
                item.needs_publish = True
                item.supplier_changed_at = observed_at or utcnow()
            marked += 1
        elif cost_to_write(item) is not None:
            marked += 1
        _check_margin(session, shop, item)
    session.flush()
    return marked


def _check_margin(session: Session, shop: Shop, item: InventoryItem) -> None:
    if item.unit_cost is None or not item.price:
        return
    price, cost = Decimal(item.price), Decimal(item.unit_cost)
    margin = float((price - cost) / price)
    floor = margin_floor(shop)
    data: dict[str, Any] = {
        "inventory_item_id": item.inventory_item_id, "variant_id": item.variant_id, "sku": item.sku,
        "price": str(price), "unit_cost": str(cost), "margin": round(margin, 4), "floor": floor,
    }
    if margin < floor and item.margin_alert_at is None:
        item.margin_alert_at = utcnow()
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="inventory.margin_alert",
                        source="dropguard", data=data)
    elif margin >= floor and item.margin_alert_at is not None:
        item.margin_alert_at = None
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="inventory.margin_recovered",
                        source="dropguard", data=data)


def items_for_supplier_skus(session: Session, supplier: Supplier, stock_keys: list[str]) -> list[InventoryItem]:
    """The store items mapped to these supplier products (or variants: stock_key), locked (id
    order) for the update."""
    wanted = set(stock_keys)
    products = {key.split("|", 1)[0] for key in wanted}
    mappings = [m for m in session.scalars(select(VariantMapping).where(
        VariantMapping.shop_id == supplier.shop_id, VariantMapping.supplier_id == supplier.id,
        VariantMapping.supplier_sku.in_(products | wanted))) if mapping_key(m) in wanted]
    variant_ids = {m.variant_id for m in mappings if m.variant_id is not None}
    skus = {m.sku for m in mappings if m.variant_id is None and m.sku}
    if not variant_ids and not skus:
        return []
    return list(session.scalars(
        select(InventoryItem)
        .where(InventoryItem.shop_id == supplier.shop_id,
               or_(InventoryItem.variant_id.in_(variant_ids), InventoryItem.sku.in_(skus)))
        .order_by(InventoryItem.id)
        .with_for_update()
    ))


def request_publish(session: Session, shop_id: int) -> None:
    """Enqueue one publish for the shop unless one was enqueued moments ago."""
    if get_redis().set(key("inventory", "publish-queued", str(shop_id)), 1, nx=True, ex=PUBLISH_DEBOUNCE_SECONDS):
        enqueue(session, PUBLISH_TASK, shop_id)


def publish_started(shop_id: int) -> None:
    # Changes marked from now on need a publish of their own: let the next one enqueue it.
    get_redis().delete(key("inventory", "publish-queued", str(shop_id)))


@dataclass(frozen=True)
class Level:
    """One supplier product's (or variant's: stock_key) stock as a supplier reported it."""

    sku: str
    quantity: int
    cost: Decimal | float | str | None = None


def apply_supplier_stock(
    session: Session, supplier: Supplier, sku: str, quantity: int, cost: Decimal | float | str | None = None,
    *, source: str = "webhook", observed_at: datetime | None = None, currency: str | None = None,
) -> StockChange:
    """Record what a supplier says about one product and carry it to the mapped store items.

    Flushes; the caller commits (the publish task is enqueued in the same transaction).
    """
    return apply_supplier_levels(session, supplier, [Level(sku, quantity, cost)], source=source,
                                 observed_at=observed_at, currency=currency)


def apply_supplier_levels(
    session: Session, supplier: Supplier, levels: list[Level], *, source: str = "poll",
    observed_at: datetime | None = None, currency: str | None = None,
) -> StockChange:
    """Several products of one supplier at once (a poll, a bulk feed): one ledger event for all."""
    observed_at = observed_at or utcnow()
    wanted = {level.sku: level for level in levels}
    previous = {
        row.supplier_sku: (row.quantity, row.unit_cost, row.observed_at)
        for row in session.scalars(
            select(SupplierStock)
            .where(SupplierStock.supplier_id == supplier.id, SupplierStock.supplier_sku.in_(list(wanted)))
            .order_by(SupplierStock.supplier_sku)
            .with_for_update()
        )
    }
    changes, rows = [], []
    for sku, level in wanted.items():
        quantity = max(int(level.quantity), 0)
        cost = Decimal(str(level.cost)) if level.cost is not None else None
        before = previous.get(sku)
        if before is not None and before[2] > observed_at:
            continue  # an older message arriving late never wins
        rows.append({"shop_id": supplier.shop_id, "supplier_id": supplier.id, "supplier_sku": sku,
                     "quantity": quantity, "unit_cost": cost, "source": source, "observed_at": observed_at})
        if before is None or before[0] != quantity or (cost is not None and before[1] != cost):
            changes.append({"supplier_sku": sku, "quantity": quantity,
                            "previous_quantity": before[0] if before else None,
                            "unit_cost": str(cost) if cost is not None else None,
                            "cost_changed": cost is not None and (before is None or before[1] != cost)})
    if rows:
        statement = insert(SupplierStock).values(rows)
        session.execute(statement.on_conflict_do_update(
            index_elements=["supplier_id", "supplier_sku"],
            set_={"quantity": statement.excluded.quantity, "source": statement.excluded.source,
                  "observed_at": statement.excluded.observed_at, "updated_at": func.now(),
                  "unit_cost": func.coalesce(statement.excluded.unit_cost, SupplierStock.unit_cost)},
        ))
    if not changes:
        return StockChange(0, False, False)
    for row in session.identity_map.values():
        if isinstance(row, SupplierStock):
            session.expire(row)  # the upsert changed rows under them
    shop = session.get(Shop, supplier.shop_id)
    items = items_for_supplier_skus(session, supplier, [c["supplier_sku"] for c in changes])
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, kind="inventory.supplier_stock", source=source,
        occurred_at=observed_at,
        data={"supplier_id": supplier.id, "currency": currency, "changed": len(changes), "items": len(items),
              "changes": changes[:100]},
    )
    marked = recompute(session, shop, items, observed_at=observed_at)
    if marked:
        request_publish(session, shop.id)
    return StockChange(len(items), any(c["previous_quantity"] != c["quantity"] for c in changes),
                       any(c["cost_changed"] for c in changes))


def has_pending(session: Session, shop_id: int) -> bool:
    return session.scalar(
        select(InventoryItem.id).where(InventoryItem.shop_id == shop_id,
                                       or_(InventoryItem.needs_publish, cost_pending())).limit(1)
    ) is not None


def shops_with_mappings(session: Session) -> list[int]:
    return list(session.scalars(
        select(Shop.id).where(Shop.status == "installed", Shop.id.in_(select(VariantMapping.shop_id)))
        .order_by(Shop.id)
    ))


def pending_shops(session: Session) -> list[int]:
    return list(session.scalars(
        select(InventoryItem.shop_id).where(or_(InventoryItem.needs_publish, cost_pending()))
        .group_by(InventoryItem.shop_id)
    ))
