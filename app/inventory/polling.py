"""Polling supplier stock for protocols without stock webhooks (AliExpress; CJ as a fallback).

Each poll goes through the supplier's circuit breaker and rate limit, like orders do; the SKUs
heard from longest ago are asked first, so a limited run still covers the catalogue in turn.
"""

from __future__ import annotations

import logging

import httpx
from sqlalchemy import select

from app.db import session_scope
from app.inventory import service
from app.inventory.models import SupplierStock
from app.suppliers import resilience
from app.suppliers.adapters import PROTOCOLS, get_adapter
from app.suppliers.models import Supplier
from app.suppliers.protocols import SupplierError
from app.suppliers.tables import VariantMapping

log = logging.getLogger(__name__)

POLL_LIMIT = 200
# Answers are written in groups: one transaction and one ledger event per group.
APPLY_EVERY = 50
# Protocols whose adapters answer get_stock.
POLLED = tuple(name for name, protocol in PROTOCOLS.items() if protocol.adapter.polls_stock)


def _skus(supplier: Supplier, limit: int) -> list[str]:
    with session_scope() as session:
        mapped = select(VariantMapping.supplier_sku.label("sku")).where(
            VariantMapping.supplier_id == supplier.id
        ).distinct().subquery()
        return list(session.scalars(
            select(mapped.c.sku)
            .outerjoin(SupplierStock, (SupplierStock.supplier_id == supplier.id)
                       & (SupplierStock.supplier_sku == mapped.c.sku))
            .order_by(SupplierStock.observed_at.asc().nulls_first(), mapped.c.sku)
            .limit(limit)
        ))


def _apply(supplier_id: int, found: list[service.Level]) -> None:
    if found:
        with session_scope() as session:
            service.apply_supplier_levels(session, session.get(Supplier, supplier_id), found, source="poll")
        found.clear()


def _levels(sku: str, levels: list) -> list[service.Level]:
    """Each variant's own stock (a store variant mapped to one shows that variant's quantity, not
    the product's), and the product's total for mappings that name no variant."""
    prices = [level.price for level in levels if level.price is not None]
    found = [service.Level(service.stock_key(sku, level.variant), max(level.available, 0), level.price)
             for level in levels if level.variant]
    found.append(service.Level(sku, sum(max(level.available, 0) for level in levels), prices[0] if prices else None))
    return found


def poll_supplier(supplier_id: int, *, transport: httpx.BaseTransport | None = None, limit: int = POLL_LIMIT) -> int:
    """Ask one supplier for the stock of its mapped products; returns how many answers were applied."""
    with session_scope() as session:
        supplier = session.get(Supplier, supplier_id)
    if supplier is None or supplier.protocol not in POLLED:
        return 0
    applied, found = 0, []
    with get_adapter(supplier, transport=transport) as adapter:
        for sku in _skus(supplier, limit):
            if not resilience.allow_call(supplier):
                break  # the supplier is down: its circuit decides when to try again
            try:
                resilience.take_token(supplier)
                levels = adapter.get_stock(sku)
            except resilience.SupplierBusy:
                break
            except SupplierError as error:
                resilience.after_call(supplier, None, ok=not error.retryable)
                log.info("inventory.poll_failed", extra={"supplier_id": supplier_id, "reason": error.message})
                if error.retryable:
                    break
                continue
            resilience.after_call(supplier, None, ok=True)
            found.extend(_levels(sku, levels))
            applied += 1
            if len(found) >= APPLY_EVERY:
                _apply(supplier_id, found)
    _apply(supplier_id, found)
    return applied


def polled_suppliers() -> list[int]:
    with session_scope() as session:
        return list(session.scalars(
            select(Supplier.id).where(Supplier.protocol.in_(POLLED))
            .where(Supplier.id.in_(select(VariantMapping.supplier_id))).order_by(Supplier.id)
        ))
