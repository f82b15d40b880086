"""Product mapping, supplier order lines, order flags and mapping imports (issue 4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class VariantMapping(TimestampMixin, Base):
    """A store variant (by variant id and/or SKU) sold by one supplier product; priority 1 first."""

    __tablename__ = "variant_mappings"
    __table_args__ = (UniqueConstraint("shop_id", "match_key", "supplier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    # "v:<variant_id>" when the variant id is known, else "s:<sku>": one row per variant and supplier.
    match_key: Mapped[str] = mapped_column(String(300))
    variant_id: Mapped[int | None]
    sku: Mapped[str | None] = mapped_column(String(255))
    supplier_sku: Mapped[str] = mapped_column(String(255))  # generic SKU, AliExpress product_id, CJ vid
    supplier_variant: Mapped[str | None] = mapped_column(String(255))  # AliExpress sku_attr
    priority: Mapped[int] = mapped_column(default=1)
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    shipping_method: Mapped[str | None] = mapped_column(String(128))


class SupplierOrderLine(Base):
    """What one supplier order asks for: which of our order lines, as which supplier product."""

    __tablename__ = "supplier_order_lines"
    __table_args__ = (UniqueConstraint("supplier_order_id", "order_line_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_order_id: Mapped[int] = mapped_column(ForeignKey("supplier_orders.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    mapping_id: Mapped[int | None] = mapped_column(ForeignKey("variant_mappings.id", ondelete="SET NULL"))
    supplier_sku: Mapped[str | None] = mapped_column(String(255))
    supplier_variant: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(512))
    quantity: Mapped[int]
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    shipping_method: Mapped[str | None] = mapped_column(String(128))


class OrderFlag(TimestampMixin, Base):
    """Why an order waits for the merchant (or the customer): one open flag per order and kind.

    kinds: review (policy), address (cannot be fixed), unmapped (no supplier product),
    reconcile (an AliExpress create whose answer was lost), awaiting_customer_choice (no supplier
    left: the customer is offered to wait or to cancel and be refunded).
    """

    __tablename__ = "order_flags"
    __table_args__ = (UniqueConstraint("order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(64))


class MappingImport(TimestampMixin, Base):
    """One CSV import and its per-row report."""

    __tablename__ = "mapping_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    imported: Mapped[int]
    rejected: Mapped[int]
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
