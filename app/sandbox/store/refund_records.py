"""Refunds as the store keeps them: REST refund records on the order document (the shape the
refunds/create webhook carries), the order's sale transactions they return money from, and the
order's payment state that follows. A leaf module: refundCreate, the merchant's own refunds in the
admin and cancellations all build their records here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.sandbox.store import orders

TRANSACTION_STATUSES = ("success", "pending", "failure")


def sales(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's successful sale transactions; a paid order stored before transactions were kept
    gets its one sale for the order total (made once, then stored with the document; its id is
    the order's own, which no other transaction has)."""
    order = document["order"]
    if "transactions" not in document:
        paid = order["financial_status"] in ("paid", "partially_refunded", "refunded")
        document["transactions"] = [{
            "id": order["id"], "admin_graphql_api_id": orders.gid("OrderTransaction", order["id"]),
            "kind": "sale", "status": "success", "gateway": (order.get("payment_gateway_names") or ["manual"])[0],
            "amount": order["total_price"], "currency": order["currency"], "created_at": order["processed_at"],
            "processed_at": order["processed_at"], "parent_id": None,
        }] if paid else []
    return [t for t in document["transactions"] if t["kind"] in ("sale", "capture") and t["status"] == "success"]


def add_sale(document: dict[str, Any], transaction_id: int, gateway: str, now: datetime) -> None:
    order = document["order"]
    stamp = orders.timestamp(now)
    document.setdefault("transactions", []).append({
        "id": transaction_id, "admin_graphql_api_id": orders.gid("OrderTransaction", transaction_id),
        "kind": "sale", "status": "success", "gateway": gateway, "amount": order["total_price"],
        "currency": order["currency"], "created_at": stamp, "processed_at": stamp, "parent_id": None,
    })


def refund_transactions(order: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for refund in order.get("refunds") or []:
        yield from refund.get("transactions") or []


def refunded(order: dict[str, Any], *, statuses: tuple[str, ...] = ("success",)) -> Decimal:
    return sum((Decimal(str(t["amount"])) for t in refund_transactions(order) if t["status"] in statuses),
               Decimal(0))


def refundable(order: dict[str, Any]) -> Decimal:
    """What may still be refunded: refunds on their way count, failed ones do not."""
    return Decimal(order["total_price"]) - refunded(order, statuses=("success", "pending"))


def remaining_on(order: dict[str, Any], sale: dict[str, Any]) -> Decimal:
    returned = sum((Decimal(str(t["amount"])) for t in refund_transactions(order)
                    if t.get("parent_id") == sale["id"] and t["status"] in ("success", "pending")), Decimal(0))
    return Decimal(str(sale["amount"])) - returned


def settle_payment(order: dict[str, Any]) -> None:
    """financial_status and current_total_price after a refund's money moved (or failed to)."""
    done = refunded(order)
    total = Decimal(order["total_price"])
    order["current_total_price"] = orders.money(total - done)
    if order["financial_status"] in ("paid", "partially_refunded", "refunded") and done > 0:
        order["financial_status"] = "refunded" if done >= total else "partially_refunded"


def record(
    document: dict[str, Any], *, ids: Iterator[int], now: datetime, note: str | None,
    lines: list[tuple[dict[str, Any], int]], money: list[tuple[Decimal, dict[str, Any] | None, str]],
    status: str, idempotency_key: str | None = None, restock: bool = False,
) -> dict[str, Any]:
    """Append one REST refund to the order: `lines` are (order line, quantity) pairs, `money` the
    refund transactions as (amount, parent sale or None, gateway), each in `status`."""
    order = document["order"]
    currency = order["currency"]
    stamp = orders.timestamp(now)
    refund_id = next(ids)
    refund_lines = []
    for line, quantity in lines:
        subtotal = Decimal(line["price"]) * quantity
        refund_lines.append({
            "id": next(ids), "line_item_id": line["id"], "quantity": quantity,
            "restock_type": "return" if restock else "no_restock", "location_id": None,
            "subtotal": float(subtotal), "total_tax": 0.0,
            "subtotal_set": orders.money_set(orders.money(subtotal), currency),
            "total_tax_set": orders.money_set("0.00", currency), "line_item": line,
        })
    transactions = []
    for amount, parent, gateway in money:
        transaction_id = next(ids)
        transactions.append({
            "id": transaction_id, "admin_graphql_api_id": orders.gid("OrderTransaction", transaction_id),
            "order_id": order["id"], "kind": "refund", "status": status, "amount": orders.money(amount),
            "currency": currency, "gateway": gateway, "parent_id": parent["id"] if parent else None,
            "authorization": None, "created_at": stamp, "processed_at": stamp, "test": False,
        })
    refund = {
        "id": refund_id, "admin_graphql_api_id": orders.gid("Refund", refund_id), "order_id": order["id"],
        "created_at": stamp, "processed_at": stamp, "note": note, "restock": restock, "user_id": None,
        "refund_line_items": refund_lines, "transactions": transactions, "order_adjustments": [],
        "refund_shipping_lines": [], "duties": [],
    }
    order.setdefault("refunds", []).append(refund)
    # Kept beside the REST fields (Shopify does not show it): which @idempotent key made it.
    refund_keys = document.setdefault("refund_keys", {})
    if idempotency_key:
        refund_keys[str(refund_id)] = idempotency_key
    settle_payment(order)
    orders.touch(order, now)
    return refund


def allocate(document: dict[str, Any], amount: Decimal) -> list[tuple[Decimal, dict[str, Any] | None, str]]:
    """Split a refund over the order's sales, largest remaining first (what Shopify's suggested
    refund does for a merchant's refund in the admin)."""
    order = document["order"]
    parts = []
    left = amount
    for sale in sorted(sales(document), key=lambda s: remaining_on(order, s), reverse=True):
        take = min(left, remaining_on(order, sale))
        if take > 0:
            parts.append((take, sale, sale["gateway"]))
            left -= take
    if left > 0:
        parts.append((left, None, "manual"))
    return parts
