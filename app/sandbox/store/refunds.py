"""refundCreate for the store emulator, with Shopify's @idempotent(key:) semantics.

A repeat with a key already used for this shop returns the first refund unchanged (no second
refund, no second webhook); the amount may not exceed what remains paid (a userError, as on
Shopify). Refunds are kept on the order document (`order["refunds"]`) where the order's
`refunds` field and the control API read them.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from app.db import utcnow
from app.sandbox.store import fulfil, orders, state

# Types the base SDL may not define yet; only the missing ones are added (see extension()).
_TYPES = {
    "scalar Money\n": "scalar Money",
    "type MoneyV2 ": "type MoneyV2 { amount: Decimal! currencyCode: String! }",
    "type MoneyBag ": "type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }",
    "type Refund ": (
        "type Refund { id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime note: String "
        "totalRefundedSet: MoneyBag! }"
    ),
}
_OWN = """
enum OrderTransactionKind { SALE CAPTURE AUTHORIZATION VOID REFUND CHANGE EMV_AUTHORIZATION SUGGESTED_REFUND }
input OrderTransactionInput { amount: Money! gateway: String! kind: OrderTransactionKind! orderId: ID! parentId: ID }
input RefundInput { orderId: ID! note: String notify: Boolean transactions: [OrderTransactionInput!] }
type RefundCreatePayload { refund: Refund order: Order userErrors: [UserError!]! }
extend type Mutation { refundCreate(input: RefundInput!): RefundCreatePayload }
"""


def extension(base_sdl: str) -> str:
    missing = [sdl for marker, sdl in _TYPES.items() if marker not in base_sdl]
    return "\n".join(missing) + _OWN


def _money(amount: str, currency: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": money}


def view(refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": refund["admin_graphql_api_id"],
        "legacyResourceId": str(refund["id"]),
        "createdAt": refund["created_at"],
        "note": refund.get("note"),
        "totalRefundedSet": _money(refund["amount"], refund["currency"]),
    }


def _error(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def create(shop: dict[str, Any], refund_input: dict[str, Any], *, idempotency_key: str | None) -> dict[str, Any]:
    order_id = fulfil.parse_gid(refund_input.get("orderId"), "Order")
    if order_id is None:
        raise GraphQLError(f"Invalid global id '{refund_input.get('orderId')}'")
    try:
        amount = sum((Decimal(str(t["amount"])) for t in refund_input.get("transactions") or []
                      if t.get("kind") == "REFUND"), Decimal(0))
    except InvalidOperation:
        return {"refund": None, "userErrors": [_error(["input", "transactions"], "Amount is invalid.")]}
    idem_key = state.k("idempotency", "refund", shop["domain"], idempotency_key) if idempotency_key else None
    refund_id = next(state.next_ids(1))

    def change(document: dict[str, Any], pipe) -> dict[str, Any]:
        if document["shop"] != shop["domain"]:
            return {"user_errors": [_error(["input", "orderId"], "Order does not exist.")]}
        order = document["order"]
        refunds = order.setdefault("refunds", [])
        if idem_key and (previous := pipe.get(idem_key)):
            first = json.loads(previous)["refund_id"]
            return {"refund": next(r for r in refunds if r["id"] == first), "replayed": True}
        already = sum((Decimal(r["amount"]) for r in refunds), Decimal(0))
        if amount <= 0 or already + amount > Decimal(str(order["total_price"])):
            return {"user_errors": [_error(["input", "transactions"], "Refund amount exceeds the refundable amount.")]}
        refund = {
            "id": refund_id,
            "admin_graphql_api_id": orders.gid("Refund", refund_id),
            "created_at": orders.timestamp(utcnow()),
            "note": refund_input.get("note"),
            "amount": f"{amount:.2f}",
            "currency": order["currency"],
            "idempotency_key": idempotency_key,
        }
        refunds.append(refund)
        total = already + amount
        order["financial_status"] = "refunded" if total >= Decimal(str(order["total_price"])) else "partially_refunded"
        also = [lambda p: p.set(idem_key, json.dumps({"refund_id": refund_id}), ex=state.ORDER_TTL)] if idem_key else []
        return {"write": True, "refund": refund, "also": also}

    result = state.update_order(order_id, change, watch=(idem_key,) if idem_key else ())
    if result is None:
        return {"refund": None, "userErrors": [_error(["input", "orderId"], "Order does not exist.")]}
    if result.get("user_errors"):
        return {"refund": None, "userErrors": result["user_errors"]}
    return {"refund": view(result["refund"]), "userErrors": []}


def _resolve_refund_create(info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    schema = info.schema
    directive = get_directive_values(schema.get_directive("idempotent"), info.field_nodes[0], info.variable_values)
    return create(info.context["shop"], input, idempotency_key=directive["key"] if directive else None)


ROOT = {"refundCreate": _resolve_refund_create}
