"""CJ STOCK and VARIANT messages: a CJ account's stock news, carried to every shop that buys from it.

A stock message names no order, only variants (vid, which is our supplier_sku for CJ) of the
account that signed it. It is recorded once per shop holding a CJ supplier on that account (the
inbox's key is per shop) and applied by the callback task through
app.inventory.service.apply_supplier_stock.

The params' shape for stock is not pinned down by CJ's public pages, so it is read defensively:
a flat `{vid, storageNum|totalInventoryNum|quantity|inventoryNum}`, a list of such rows, or rows
grouped under their vid (one per warehouse, summed). Whatever cannot be read is recorded in the
ledger and acknowledged, never retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.evidence import service as evidence
from app.inventory import service as inventory
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.suppliers.adapters.base import WebhookUpdate
from app.suppliers.callbacks import CALLBACK_TASK, CJ_SOURCE, CallbackResult, record_cj
from app.suppliers.models import Supplier
from app.webhooks.models import WebhookDelivery

STOCK_TYPES = frozenset({"STOCK", "VARIANT"})
TOPICS = frozenset(f"cj.{kind}" for kind in STOCK_TYPES)
_QUANTITY_KEYS = ("storageNum", "totalInventoryNum", "inventoryNum", "quantity", "stock")
_MAX_PROBLEMS = 20


def is_stock(update: WebhookUpdate) -> bool:
    return update.topic.upper() in STOCK_TYPES


def _quantity(row: Mapping[str, Any]) -> int | None:
    for name in _QUANTITY_KEYS:
        value = row.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
    return None


def stock_levels(params: Any) -> tuple[dict[str, int], list[str]]:
    """{vid: quantity} summed over warehouses, and what could not be read (without values)."""
    levels: dict[str, int] = {}
    problems: list[str] = []

    def take(row: Any, vid: str | None, where: str) -> None:
        if not isinstance(row, Mapping):
            problems.append(f"{where}: not an object")
            return
        vid = str(row.get("vid") or vid or "").strip()
        quantity = _quantity(row)
        if not vid or len(vid) > 128:
            problems.append(f"{where}: no usable vid")
        elif quantity is None:
            problems.append(f"{where}: no stock quantity")
        else:
            levels[vid] = levels.get(vid, 0) + max(quantity, 0)

    if isinstance(params, Mapping) and params.get("vid"):
        take(params, None, "params")
    elif isinstance(params, list):
        for i, row in enumerate(params):
            take(row, None, f"params[{i}]")
    elif isinstance(params, Mapping):
        for vid, rows in params.items():
            for i, row in enumerate(rows if isinstance(rows, list) else [rows]):
                take(row, str(vid), f"params[vid][{i}]")
    else:
        problems.append("params: not an object or list")
    return levels, problems[:_MAX_PROBLEMS]


def suppliers_of_account(session: Session, open_id: str | None, *, shop_id: int | None = None) -> list[Supplier]:
    """CJ suppliers on this account: their own open_id, or the configured one when they have no
    own credentials (exactly the account the CJ adapter would use for them)."""
    if not open_id:
        return []
    query = select(Supplier).where(Supplier.protocol == "cj").order_by(Supplier.id)
    if shop_id is not None:
        query = query.where(Supplier.shop_id == shop_id)
    configured = str(get_settings().cj_open_id or "")
    found = []
    for supplier in session.scalars(query):
        own = supplier.settings or {}
        account = own.get("open_id") or (configured if not (own.get("secrets") or {}).get("api_key") else None)
        if account and str(account) == open_id:
            found.append(supplier)
    return found


def record(session: Session, update: WebhookUpdate, payload: dict[str, Any], body: bytes) -> CallbackResult:
    """One delivery (with its evidence and task) per shop on the signing account; the caller commits.

    An account no shop buys from is recorded like an unknown order and not applied."""
    open_id = payload.get("openId")
    suppliers = suppliers_of_account(session, str(open_id) if open_id is not None else None)
    shops = {supplier.shop_id: session.get(Shop, supplier.shop_id) for supplier in suppliers}
    first: CallbackResult | None = None
    topic = f"cj.{update.topic.upper()}"
    for shop in shops.values():
        delivery_id = session.scalar(
            insert(WebhookDelivery)
            .values(source=CJ_SOURCE, shop_domain=shop.domain, shop_id=shop.id, topic=topic,
                    event_id=update.event_id[:255], payload=payload, status="queued")
            .on_conflict_do_nothing(index_elements=["source", "shop_domain", "event_id"])
            .returning(WebhookDelivery.id)
        )
        if delivery_id is None:
            continue
        evidence.record(
            session, chain=shop.domain, shop_id=shop.id, kind="supplier.callback_received", source="supplier",
            data={"type": topic, "event_id": update.event_id, "body_sha256": hashlib.sha256(body).hexdigest(),
                  "body_bytes": len(body), "signature": "verified", "delivery_status": "queued"},
            webhook_delivery_id=delivery_id,
        )
        enqueue(session, CALLBACK_TASK, delivery_id)
        first = first or CallbackResult(delivery_id, "queued")
    if not shops:
        return record_cj(session, update, payload, body)
    session.flush()
    return first or CallbackResult(None, "duplicate")


def apply(session: Session, delivery: WebhookDelivery) -> str:
    """Apply one recorded stock message to the shop's CJ suppliers; returns processed | ignored."""
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    open_id = payload.get("openId")
    suppliers = suppliers_of_account(session, str(open_id) if open_id is not None else None,
                                     shop_id=delivery.shop_id)
    shop = session.get(Shop, delivery.shop_id) if delivery.shop_id else None
    if shop is None or not suppliers:
        return "ignored"
    levels, problems = stock_levels(payload.get("params"))
    for supplier in suppliers:
        for vid, quantity in sorted(levels.items()):
            inventory.apply_supplier_stock(session, supplier, vid, quantity, source="webhook")
    if problems or not levels:
        evidence.record(
            session, chain=shop.domain, shop_id=shop.id, kind="supplier.stock_not_applied", source="supplier",
            data={"delivery_id": delivery.id, "type": delivery.topic, "applied": len(levels),
                  "problems": problems or ["no stock levels in the message"]},
            webhook_delivery_id=delivery.id,
        )
    session.flush()
    return "processed"
