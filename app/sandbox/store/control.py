"""What a merchant or a customer does in the emulated store: checkouts, payments, cancellations,
uninstalls. Each returns the webhooks Shopify would send for it."""

from __future__ import annotations

from typing import Any

from app.db import utcnow
from app.sandbox import delivery
from app.sandbox.store import orders, refund_records, state, subscriptions, webhooks


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _shop(domain: str) -> dict[str, Any]:
    shop = state.get_shop(domain)
    if shop is None:
        raise ControlError(404, f"unknown shop {domain}; register it with POST /sandbox/shopify/_control/shops")
    return shop


def _check_lines(partial: dict[str, Any]) -> None:
    lines = partial.get("line_items")
    if not isinstance(lines, list) or not lines:
        raise ControlError(400, "order.line_items must be a non-empty list")
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            raise ControlError(400, f"order.line_items[{index}] must be an object")
        quantity = line.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ControlError(400, f"order.line_items[{index}].quantity must be a positive integer")
        try:
            float(line.get("price") or 0)
        except (TypeError, ValueError):
            raise ControlError(400, f"order.line_items[{index}].price must be an amount") from None


def create_order(domain: str, partial: dict[str, Any], *, paid: bool) -> tuple[dict, list[delivery.Delivery]]:
    shop = _shop(domain)
    _check_lines(partial)
    for field in ("customer", "shipping_address", "billing_address"):
        if partial.get(field) is not None and not isinstance(partial[field], dict):
            raise ControlError(400, f"order.{field} must be an object")
    lines = len(partial["line_items"])
    ids = state.next_ids(4 + 2 * lines + len(partial.get("shipping_lines") or []))
    order, fulfillment_orders = orders.build_order(
        partial, shop=shop, number=state.next_order_number(domain), ids=ids, paid=paid, now=utcnow()
    )
    document = {"shop": domain, "order": order, "fulfillment_orders": fulfillment_orders, "transactions": []}
    if paid:
        refund_records.add_sale(document, next(state.next_ids(1)), order["payment_gateway_names"][0], utcnow())
    state.save_new_order(domain, document)
    topics = ["orders/create"] + (["orders/paid"] if paid else [])
    return document, [webhooks.webhook(shop, topic, order) for topic in topics]


def _mutate(order_id: int, change) -> tuple[dict[str, Any], dict[str, Any]]:
    def apply(document: dict[str, Any], _pipe) -> dict[str, Any]:
        change(document)
        orders.touch(document["order"], utcnow())
        return {"write": True, "document": document}

    result = state.update_order(order_id, apply)
    if result is None:
        raise ControlError(404, f"no order {order_id}")
    document = result["document"]
    return document, _shop(document["shop"])


def pay(order_id: int) -> tuple[dict, list[delivery.Delivery]]:
    sale_id = next(state.next_ids(1))

    def change(document: dict[str, Any]) -> None:
        order = document["order"]
        if order["financial_status"] == "paid" or order["cancelled_at"]:
            raise ControlError(409, f"order is {order['financial_status']}, cancelled_at={order['cancelled_at']}")
        refund_records.sales(document)  # an older document gets its (empty) transaction list first
        order.update(financial_status="paid", total_outstanding="0.00", payment_gateway_names=["shopify_payments"])
        refund_records.add_sale(document, sale_id, "shopify_payments", utcnow())

    document, shop = _mutate(order_id, change)
    order = document["order"]
    return document, [webhooks.webhook(shop, "orders/paid", order), webhooks.webhook(shop, "orders/updated", order)]


def cancel(order_id: int, reason: str) -> tuple[dict, list[delivery.Delivery]]:
    """Cancel with a refund of what remains paid, as the admin's Cancel order does by default:
    the refund record and its refunds/create go with the cancellation."""
    ids = state.next_ids(10)
    made: list[dict[str, Any]] = []

    def change(document: dict[str, Any]) -> None:
        made.clear()  # a concurrent change makes the store run this again on the new document
        order = document["order"]
        if order["cancelled_at"]:
            raise ControlError(409, "order is already cancelled")
        if order["fulfillment_status"] == "fulfilled":
            raise ControlError(409, "a fulfilled order cannot be cancelled")
        moment = utcnow()
        now = orders.timestamp(moment)
        refundable = refund_records.refundable(order) if order["financial_status"] != "pending" else 0
        if refundable > 0:
            made.append(refund_records.record(
                document, ids=ids, now=moment, note=f"Order cancelled ({reason})", lines=[],
                money=refund_records.allocate(document, refundable), status="success",
            ))
        order.update(cancelled_at=now, closed_at=now, cancel_reason=reason)
        if not made and order["financial_status"] in ("pending", "authorized"):
            order["financial_status"] = "voided"
        for fulfillment_order in document["fulfillment_orders"]:
            if fulfillment_order["status"] != "closed":
                fulfillment_order["status"] = "cancelled"

    document, shop = _mutate(order_id, change)
    order = document["order"]
    return document, [
        webhooks.webhook(shop, "orders/cancelled", order),
        *[webhooks.webhook(shop, "refunds/create", refund) for refund in made],
        webhooks.webhook(shop, "orders/updated", order),
    ]


def uninstall(domain: str) -> tuple[dict, list[delivery.Delivery]]:
    shop = _shop(domain)
    state.revoke_token(domain)
    payload = {
        "id": shop["id"], "name": shop["name"], "email": f"owner@{domain}", "domain": domain,
        "myshopify_domain": domain, "currency": shop["currency"], "iana_timezone": "UTC",
        "plan_name": "basic", "created_at": shop["created_at"], "updated_at": utcnow().isoformat(),
    }
    public = {k: v for k, v in shop.items() if k != "access_token"}
    uninstalled = webhooks.webhook(shop, "app/uninstalled", payload)
    # Shopify deletes the app's subscriptions on uninstall (after addressing this last webhook).
    subscriptions.delete_all(domain)
    return public, [uninstalled]


def order_view(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "order": document["order"],
        "fulfillments": document["order"]["fulfillments"],
        "fulfillment_orders": document["fulfillment_orders"],
        "disputes": document.get("disputes") or [],
    }
