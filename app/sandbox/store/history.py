"""Past orders for an app's history import: the `orders` connection with Shopify's search
syntax for dates, `ordersCount`, and the disputes a store accumulates over time (refunds:
app/sandbox/store/refunds.py)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from graphql import GraphQLError

from app.db import utcnow
from app.sandbox.store import orders, state

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
        "disputes": disputes,
    }

