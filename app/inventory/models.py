from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class InventoryItem(TimestampMixin, Base):
    """One store inventory item at one location, and what we know of both sides of its stock."""

    __tablename__ = "inventory_items"
    __table_args__ = (
        UniqueConstraint("shop_id", "inventory_item_id", "location_id"),
        Index("ix_inventory_items_shop_id_variant_id", "shop_id", "variant_id"),
        Index("ix_inventory_items_shop_id_sku", "shop_id", "sku"),
        Index("ix_inventory_items_shop_id_needs_publish", "shop_id", "needs_publish"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    inventory_item_id: Mapped[str] = mapped_column(String(128))  # gid://shopify/InventoryItem/…
    location_id: Mapped[str] = mapped_column(String(128))  # gid://shopify/Location/…
    variant_id: Mapped[int | None]  # the store's legacy variant id (order lines carry it)
    sku: Mapped[str | None] = mapped_column(String(255))
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # The store's available quantity as last seen or set by us: the changeFromQuantity of the next set.
    store_quantity: Mapped[int | None]
    # Sum over the mapped supplier products' stock; None until a supplier told us anything.
    supplier_quantity: Mapped[int | None]
    published_quantity: Mapped[int | None]
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    # The unit cost the store holds (read with the catalogue, or written by us): the cost is
    # written with inventoryItemUpdate whenever unit_cost differs from it.
    store_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    needs_publish: Mapped[bool] = mapped_column(default=False, server_default="false")
    # When the oldest supplier change not yet in the store was observed: the start of the sync lag.
    supplier_changed_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    last_lag_ms: Mapped[int | None]
    # Set while the margin at the current cost is under the shop's floor (alerted once per dip).
    margin_alert_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class SupplierStock(TimestampMixin, Base):
    """What a supplier last said about one of its products: quantity and unit cost."""

    __tablename__ = "supplier_stock"
    __table_args__ = (UniqueConstraint("supplier_id", "supplier_sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    # The product, or one variant of it (app.inventory.service.stock_key: "<product>|<sku_attr>").
    supplier_sku: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int]
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    source: Mapped[str] = mapped_column(String(16))  # webhook | poll
    observed_at: Mapped[datetime]
