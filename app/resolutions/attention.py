"""The resolution centre's item on Home's "needs you today": claims waiting for the merchant
(pending review, a return awaited, a remedy that failed) — the queue page's own list."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.resolutions.models import Resolution
from app.resolutions.service import QUEUE
from app.shops.models import Shop
from app.web.attention import register_attention


def open_claims(session: Session, shop: Shop) -> int:
    return session.scalar(select(func.count()).select_from(Resolution)
                          .where(Resolution.shop_id == shop.id, Resolution.status.in_(QUEUE))) or 0


register_attention("open_claims", "home.attention.open_claims", "/admin/resolutions", open_claims,
                   tone="critical", order=20)
