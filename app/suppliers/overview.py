"""What the supplier, product-mapping and review pages show; every query scoped to one shop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.orders.models import Order
from app.suppliers.catalogue_gaps import unmapped_catalogue
from app.suppliers.mapping import unmapped_lines
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tables import MappingImport, OrderFlag, VariantMapping

FLAG_TITLES = {
    "review": "Held for review",
    "address": "Address needs fixing",
    "unmapped": "Products without a supplier",
    "reconcile": "Check the supplier account",
    "awaiting_customer_choice": "No supplier left: customer to choose",
}


def suppliers(session: Session, shop_id: int) -> list[dict[str, Any]]:
    counts: dict[int, dict[str, int]] = {}
    for supplier_id, status, count in session.execute(
        select(SupplierOrder.supplier_id, SupplierOrder.status, func.count())
        .where(SupplierOrder.shop_id == shop_id)
        .group_by(SupplierOrder.supplier_id, SupplierOrder.status)
    ):
        counts.setdefault(supplier_id, {})[status] = count
    mapped = dict(session.execute(
        select(VariantMapping.supplier_id, func.count()).where(VariantMapping.shop_id == shop_id)
        .group_by(VariantMapping.supplier_id)).all())
    rows = session.scalars(select(Supplier).where(Supplier.shop_id == shop_id).order_by(Supplier.name)).all()
    return [{"supplier": s, "orders": counts.get(s.id, {}), "mapped": mapped.get(s.id, 0)} for s in rows]


def mappings(session: Session, shop_id: int, *, limit: int = 500) -> list[tuple[VariantMapping, str]]:
    return list(session.execute(
        select(VariantMapping, Supplier.name).join(Supplier, Supplier.id == VariantMapping.supplier_id)
        .where(VariantMapping.shop_id == shop_id)
        .order_by(VariantMapping.match_key, VariantMapping.priority).limit(limit)).all())


def imports(session: Session, shop_id: int, *, limit: int = 5) -> list[MappingImport]:
    return list(session.scalars(select(MappingImport).where(MappingImport.shop_id == shop_id)
                                .order_by(MappingImport.id.desc()).limit(limit)))


def unmapped(session: Session, shop_id: int) -> list[dict[str, Any]]:
    """Ordered variants without a mapping, then catalogue variants no supplier would fill."""
    rows = unmapped_lines(session, shop_id, limit=100)
    seen = {(row["variant_id"], row["sku"]) for row in rows}
    rows += [gap for gap in unmapped_catalogue(session, shop_id) if (gap["variant_id"], gap["sku"]) not in seen]
    return rows


def open_flags(session: Session, shop_id: int, *, limit: int = 200) -> list[tuple[OrderFlag, Order]]:
    return list(session.execute(
        select(OrderFlag, Order).join(Order, Order.id == OrderFlag.order_id)
        .where(OrderFlag.shop_id == shop_id, OrderFlag.resolved_at.is_(None))
        .order_by(OrderFlag.created_at).limit(limit)).all())


def flag_for_shop(session: Session, shop_id: int, flag_id: int) -> OrderFlag | None:
    flag = session.get(OrderFlag, flag_id)
    return flag if flag is not None and flag.shop_id == shop_id and flag.resolved_at is None else None
