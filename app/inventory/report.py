"""What the inventory sync page shows: lag, pending changes, margin alerts and failures, for one
shop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.inventory.models import InventoryItem
from app.shops.models import Shop

LIST_LIMIT = 50


@dataclass
class InventoryOverview:
    items: int
    linked: int
    pending: int
    oldest_pending: datetime | None
    published_24h: int
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_max_s: float | None
    last_published: datetime | None
    margin_alerts: list[InventoryItem]
    failed: list[InventoryItem]

    @property
    def current_lag_s(self) -> float | None:
        return (utcnow() - self.oldest_pending).total_seconds() if self.oldest_pending else None


def inventory(session: Session, shop: Shop) -> InventoryOverview:
    mine = InventoryItem.shop_id == shop.id
    items, linked, pending, oldest, last = session.execute(
        select(func.count(), func.count(InventoryItem.supplier_quantity),
               func.count().filter(InventoryItem.needs_publish),
               func.min(InventoryItem.supplier_changed_at).filter(InventoryItem.needs_publish),
               func.max(InventoryItem.published_at)).where(mine)
    ).one()
    recent = InventoryItem.published_at >= utcnow() - timedelta(days=1)
    published, p50, p95, worst = session.execute(
        select(func.count(), func.percentile_cont(0.5).within_group(InventoryItem.last_lag_ms),
               func.percentile_cont(0.95).within_group(InventoryItem.last_lag_ms), func.max(InventoryItem.last_lag_ms))
        .where(mine, recent, InventoryItem.last_lag_ms.is_not(None))
    ).one()
    alerts = session.scalars(
        select(InventoryItem).where(mine, InventoryItem.margin_alert_at.is_not(None))
        .order_by(InventoryItem.margin_alert_at.desc()).limit(LIST_LIMIT)
    ).all()
    failed = session.scalars(
        select(InventoryItem).where(mine, InventoryItem.last_error.is_not(None))
        .order_by(InventoryItem.updated_at.desc()).limit(LIST_LIMIT)
    ).all()

    def seconds(ms: float | None) -> float | None:
        return round(ms / 1000, 1) if ms is not None else None

    return InventoryOverview(items=items, linked=linked, pending=pending, oldest_pending=oldest,
                             published_24h=published, lag_p50_s=seconds(p50), lag_p95_s=seconds(p95),
                             lag_max_s=seconds(worst), last_published=last, margin_alerts=list(alerts),
                             failed=list(failed))
