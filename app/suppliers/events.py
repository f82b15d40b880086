"""Small helpers every supplier module shares: our reference, the ledger entry, the order's stage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.insights.refresh import order_changed
from app.orders.models import Order
from app.orders.service import STATUS_RANK
from app.shops.models import Shop
from app.suppliers.models import SupplierOrder

PLACE_TASK = "suppliers.place_order"
CANCEL_TASK = "suppliers.cancel_order"
POLL_TASK = "suppliers.poll_order"
# The first status poll of a supplier without order webhooks, after its order is placed.
FIRST_POLL_DELAY = timedelta(seconds=60)


def reference_for(shop_id: int, order_id: int, supplier_id: int, hop: int = 0) -> str:
    """Our idempotency key; `hop` > 0 for a later supplier order to the same supplier."""
    base = f"dg-{shop_id}-{order_id}-{supplier_id}"
    return f"{base}-{hop}" if hop else base


def record_event(
    session: Session,
    shop: Shop,
    so: SupplierOrder,
    kind: str,
    data: dict[str, Any],
    *,
    source: str = "dropguard",
    personal: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> None:
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=so.order_id,
        kind=kind,
        source=source,
        occurred_at=occurred_at,
        data={"supplier_order_id": so.id, "reference": so.idempotency_key, "status": so.status, **data},
        personal=personal,
    )
    order_changed(session, so.order_id)  # supplier timings feed the scorecards


def record_order_event(session: Session, shop: Shop, order: Order, kind: str, data: dict[str, Any], *,
                       personal: dict[str, Any] | None = None, source: str = "dropguard") -> None:
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind=kind, source=source,
                    data=data, personal=personal)


def advance_order(order: Order, status: str) -> bool:
    """Move our pipeline forward only; a cancelled order stays cancelled."""
    if order.status == "cancelled" or STATUS_RANK[status] <= STATUS_RANK[order.status]:
        return False
    order.status = status
    return True
