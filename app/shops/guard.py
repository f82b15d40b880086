"""One check for every piece of queued work that would reach the outside world for a shop.

After app/uninstalled nothing more may go out on the merchant's behalf (supplier orders, store
writes, customer messages, refunds, stock), even for work queued before it. Such work stops with
a status instead of raising, so it is never retried, and the ledger says so once per piece of work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.orders.models import Order
from app.redis import get_redis, key
from app.shops.models import Shop

SKIPPED = "skipped_shop_uninstalled"
# "Once" is kept by a Redis marker: a beat that finds the same work again does not add to the
# ledger; if the marker is lost the skip is recorded one more time, never missed.
_MARKER_TTL_SECONDS = 30 * 86400


def skipped_uninstalled(
    session: Session, shop: Shop | None, thing: str, subject: str | int, *, order_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> str | None:
    """None when `shop` still has the app installed; otherwise SKIPPED, with "<thing>.skipped_shop_uninstalled"
    recorded in the shop's chain the first time this `subject` (our id of the work) is skipped."""
    if shop is not None and shop.is_installed:
        return None
    if shop is None:
        return SKIPPED
    kind = f"{thing}.{SKIPPED}"
    if get_redis().set(key("shop_guard", kind, str(subject)), 1, nx=True, ex=_MARKER_TTL_SECONDS):
        if order_id is not None:
            # The ledger's foreign-key check locks the order after the chain head; taking it first
            # (shared, cheap) keeps the lock order of every other ledger writer.
            session.execute(select(Order.id).where(Order.id == order_id).with_for_update(key_share=True))
        evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order_id, kind=kind,
                        source="dropguard", data={"subject": str(subject), "shop_status": shop.status, **(data or {})})
        session.flush()
    return SKIPPED
