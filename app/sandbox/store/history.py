"""Past orders for an app's history import: the `orders` connection with Shopify's search
syntax for dates, `ordersCount`, and the refunds and disputes a store accumulates over time."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from app.db import utcnow
from app.sandbox import delivery
from app.sandbox.store import orders, state, webhooks
from app.sandbox.store.control import ControlError, _mutate

# created_at:>=2025-11-26T00:00:00Z, updated_at:<'2026-01-01' ... joined by spaces (AND).
_TERM = re.compile(r"^(created_at|updated_at|processed_at):(>=|<=|>|<)?'?([^']+)'?$")
_COMPARE = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            "<": lambda a, b: a < b, "": lambda a, b: a == b}
DISPUTE_STATUSES = ("needs_response", "under_review", "charge_refunded", "accepted", "won", "lost", "prevented")


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _matcher(query: str | None):
    terms = []
    for word in (query or "").split():
        match = _TERM.match(word)
        if not match:
            raise GraphQLError(f"Unsupported search term '{word}'", extensions={"code": "BAD_REQUEST"})
        field, operator, value = match.groups()
        try:
            terms.append((field, _COMPARE[operator or ""], _moment(value)))
        except ValueError:
            raise GraphQLError(f"Invalid date in '{word}'", extensions={"code": "BAD_REQUEST"}) from None
    return lambda order: all(test(_moment(order[field]), moment) for field, test, moment in terms)


def matching(domain: str, query: str | None, sort_key: str | None) -> list[dict[str, Any]]:
    keep = _matcher(query)
    documents = [d for d in state.list_orders(domain) if keep(d["order"])]
    field = {"UPDATED_AT": "updated_at", "PROCESSED_AT": "processed_at", "CREATED_AT": "created_at"}.get(
        sort_key or "ID"
    )
    # Stable order: id for ties, so cursors stay valid while new orders arrive (they sort last).
    return sorted(documents, key=lambda d: (d["order"][field] if field else "", d["order"]["id"]))


def money_bag(amount: str, currency: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def _address(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    return {"firstName": raw.get("first_name"), "lastName": raw.get("last_name"), "name": raw.get("name"),
            "company": raw.get("company"), "address1": raw.get("address1"), "address2": raw.get("address2"),
            "city": raw.get("city"), "provinceCode": raw.get("province_code"), "zip": raw.get("zip"),
            "countryCodeV2": raw.get("country_code"), "phone": raw.get("phone")}


def order_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The Order fields an import reads, beyond those the fulfilment flow uses."""
    order = document["order"]
    customer = order.get("customer") or {}
    refunds = [
        {"id": r["admin_graphql_api_id"], "legacyResourceId": str(r["id"]), "createdAt": r["created_at"],
         "note": r.get("note"), "totalRefundedSet": money_bag(r["amount"], r["currency"])}
        for r in order.get("refunds") or []
    ]
    disputes = [
        {"id": orders.gid("ShopifyPaymentsDispute", d["id"]), "initiatedAs": d["type"].upper(),
         "status": d["status"].upper()}
        for d in document.get("disputes") or []
    ]
    return {
        "processedAt": order["processed_at"],
        "currencyCode": order["currency"],
        "totalPriceSet": money_bag(order["total_price"], order["currency"]),
        "customerLocale": order.get("customer_locale"),
        "phone": order.get("phone"),
        "customer": {
            "id": customer.get("admin_graphql_api_id"), "legacyResourceId": str(customer.get("id")),
            "email": customer.get("email"), "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"), "phone": customer.get("phone"),
        } if customer.get("id") else None,
        "shippingAddress": _address(order.get("shipping_address")),
        "refunds": lambda info, first=None: refunds[: first or None],
        "disputes": disputes,
    }


def refund(order_id: int, amount: str, note: str | None) -> tuple[dict, list[delivery.Delivery]]:
    refund_id = next(state.next_ids(1))
    created: dict[str, Any] = {}

    def change(document: dict[str, Any]) -> None:
        order = document["order"]
        already = sum((Decimal(r["amount"]) for r in order["refunds"]), Decimal(0))
        if Decimal(amount) <= 0 or already + Decimal(amount) > Decimal(order["total_price"]):
            raise ControlError(409, "refund amount must be positive and at most what remains paid")
        now = orders.timestamp(utcnow())
        created.update(
            id=refund_id, admin_graphql_api_id=orders.gid("Refund", refund_id), order_id=order["id"],
            created_at=now, processed_at=now, note=note, restock=False, amount=orders.money(Decimal(amount)),
            currency=order["currency"], refund_line_items=[], order_adjustments=[],
            transactions=[{"kind": "refund", "status": "success", "amount": orders.money(Decimal(amount)),
                           "currency": order["currency"], "gateway": "shopify_payments"}],
        )
        order["refunds"].append(created)
        full = already + Decimal(amount) == Decimal(order["total_price"])
        order["financial_status"] = "refunded" if full else "partially_refunded"

    document, shop = _mutate(order_id, change)
    return document, [webhooks.webhook(shop, "refunds/create", created),
                      webhooks.webhook(shop, "orders/updated", document["order"])]


def dispute(order_id: int, kind: str, status: str, reason: str) -> tuple[dict, list[delivery.Delivery]]:
    dispute_id = next(state.next_ids(1))
    created: dict[str, Any] = {}

    def change(document: dict[str, Any]) -> None:
        order = document["order"]
        now = orders.timestamp(utcnow())
        created.update(
            id=dispute_id, order_id=order["id"], type=kind, amount=order["total_price"], currency=order["currency"],
            reason=reason, network_reason_code="13.1", status=status, evidence_due_by=None,
            evidence_sent_on=None, finalized_on=None, initiated_at=now,
        )
        document.setdefault("disputes", []).append(created)

    document, shop = _mutate(order_id, change)
    return document, [webhooks.webhook(shop, "disputes/create", created)]
