"""What each processed topic does, once a delivery is taken from the inbox (the table of topics and
their handlers is app/webhooks/topics.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib import import_module

from sqlalchemy.orm import Session

from app.notifications import service as notifications
from app.orders import service as orders
from app.shops import service as shops
from app.shops.models import Shop
from app.suppliers import service as suppliers
from app.webhooks import topics
from app.webhooks.models import WebhookDelivery


def apply_order(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    order, changes = orders.apply_snapshot(
        session, shop, delivery.topic, delivery.payload, delivery_id=delivery.id
    )
    if "paid" in changes:
        suppliers.plan_for_order(session, order)
        notifications.schedule(session, order, stage="order_confirmed")
    if "cancelled" in changes:
        suppliers.cancel_for_order(session, order)


def app_uninstalled(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    shops.uninstall(session, shop)


@lru_cache
def handler_for(topic: str) -> Callable[[Session, Shop, WebhookDelivery], None] | None:
    """The function that applies a delivery of this topic, or None for topics only recorded."""
    spec = topics.BY_NAME.get(topic)
    if spec is None or spec.handler is None:
        return None
    module, _, name = spec.handler.partition(":")
    return getattr(import_module(module), name)
