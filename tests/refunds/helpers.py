"""A shop and paid orders in the store emulator and here, and the store's webhooks processed by hand."""

from __future__ import annotations

import os
from decimal import Decimal

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import get_sessionmaker, utcnow
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.outbox.models import OutboxMessage
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery
from app.webhooks.tasks import process_delivery
from tests.fixtures import wait_for

ORDER = {
    "line_items": [{"title": "Desk lamp", "sku": "DL-1", "quantity": 2, "price": "20.00"}],
    "customer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    "shipping_address": {"first_name": "Ada", "last_name": "Lovelace", "address1": "1 Main St", "city": "Austin",
                         "province_code": "TX", "zip": "73301", "country_code": "US"},
    "currency": "USD",
}
TASKS_WE_RUN = ["refunds.issue", "refunds.reconcile", "resolutions.refund_settled", "webhooks.process_delivery",
                "notifications.send", "suppliers.place_order"]


def control() -> str:
    return os.environ["DROPGUARD_PUBLIC_URL"].rstrip("/") + "/sandbox/shopify/_control"


def store_order(session: Session, shop: Shop) -> tuple[Order, dict]:
    """A paid order in the store, applied here as its orders/paid webhook would be."""
    created = httpx.post(f"{control()}/orders", json={"shop": shop.domain, "order": ORDER, "paid": True}, timeout=30)
    assert created.status_code == 201, created.text
    store = created.json()["order"]
    order, _ = apply_snapshot(session, shop, "orders/paid", store)
    hold(session)
    session.commit()
    return order, store


def behave(shop: Shop, **rules) -> None:
    httpx.post(f"{control()}/behaviour", json={"shop": shop.domain, **rules}, timeout=10).raise_for_status()


def store_refunds(store_order_id: int) -> list[dict]:
    response = httpx.get(f"{control()}/orders/{store_order_id}", timeout=10)
    response.raise_for_status()
    return response.json()["order"].get("refunds") or []


def hold(session: Session) -> None:
    """The test runs these tasks itself: their outbox rows are marked published (a live worker of
    another module may still be draining)."""
    session.flush()
    session.execute(update(OutboxMessage).where(OutboxMessage.task_name.in_(TASKS_WE_RUN),
                                                OutboxMessage.dispatched_at.is_(None))
                    .values(dispatched_at=utcnow()))


def deliveries(shop: Shop, topic: str, *, count: int = 1, timeout: float = 15) -> list[int]:
    """Ids of the store's deliveries of `topic` for this shop, once `count` of them arrived."""
    def arrived():
        with get_sessionmaker()() as session:
            ids = list(session.scalars(select(WebhookDelivery.id).where(
                WebhookDelivery.shop_domain == shop.domain, WebhookDelivery.topic == topic,
            ).order_by(WebhookDelivery.id)))
        return ids if len(ids) >= count else None

    return wait_for(arrived, timeout=timeout, message=f"{count} {topic} deliveries")


def process(delivery_id: int) -> str:
    outcome = process_delivery.run(delivery_id)
    with get_sessionmaker()() as session:
        hold(session)
        session.commit()
    return outcome


def money(value: str) -> Decimal:
    return Decimal(value)
