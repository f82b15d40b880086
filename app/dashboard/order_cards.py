"""The order page's claims card, given through app/web/panels.py like every domain's card (the
resolutions domain has no order card of its own yet; disputes and risk give theirs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.orders.models import Order
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.web.panels import register_order_panel


def _claims(session: Session, shop: Shop, order: Order) -> dict[str, Any] | None:
    claims = list(session.scalars(select(Resolution).where(
        Resolution.shop_id == shop.id, Resolution.order_id == order.id).order_by(Resolution.id)))
    return {"claims": claims} if claims else None


register_order_panel("claims", "dashboard/_claims_panel.html", _claims, order=40)
