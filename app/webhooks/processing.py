"""What each processed topic does, once a delivery is taken from the inbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.disputes import service as disputes
from app.notifications import service as notifications
from app.orders import service as orders
from app.privacy import service as privacy
from app.refunds import service as refunds
from app.shops import service as shops
from app.shops.models import Shop
from app.suppliers import service as suppliers
from app.webhooks.models import WebhookDelivery


def _order_topic(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    order, changes = orders.apply_snapshot(
        session, shop, delivery.topic, delivery.payload, delivery_id=delivery.id
    )
    if "paid" in changes:
        suppliers.plan_for_order(session, order)
        notifications.schedule(session, order, stage="order_confirmed")
    if "cancelled" in changes:
        suppliers.cancel_for_order(session, order)


def _app_uninstalled(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    shops.uninstall(session, shop)


HANDLERS: dict[str, Any] = {
    "orders/create": _order_topic,
    "orders/updated": _order_topic,
    "orders/paid": _order_topic,
    "orders/cancelled": _order_topic,
    "app/uninstalled": _app_uninstalled,
    "app/scopes_update": shops.on_scopes_update,
    "refunds/create": refunds.apply_webhook,
    "disputes/create": disputes.apply_webhook,
    "disputes/update": disputes.apply_webhook,
    "customers/data_request": privacy.on_data_request,
    "customers/redact": privacy.on_customer_redact,
    "shop/redact": privacy.on_shop_redact,
}
