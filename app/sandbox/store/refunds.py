"""Refunds in the store emulator: refundCreate with Shopify's @idempotent(key:) semantics, the
`refund(id:)` query, the merchant's own refunds in the admin, and the refunds/create and
orders/updated webhooks each of them sends, as Shopify does.

A repeat of refundCreate with a key already used for this shop returns the first refund unchanged
(no second refund, no second webhook). The amount may not exceed what remains paid, and a
transaction's parent must be one of the order's sales (userErrors, as on Shopify). A behaviour per
shop (control API) makes refund transactions pending or failing, or holds the next answers back
for a while after the refund is made (a lost answer, for crash tests).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import redis
from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from app.db import utcnow
from app.redis import get_redis
from app.sandbox import delivery
from app.sandbox.store import fulfil, orders, refund_records, state, webhooks
from app.sandbox.store.control import ControlError, _mutate

SDL = """
enum OrderTransactionKind { SALE CAPTURE AUTHORIZATION VOID REFUND CHANGE EMV_AUTHORIZATION SUGGESTED_REFUND }
enum OrderTransactionStatus { SUCCESS FAILURE PENDING ERROR AWAITING_RESPONSE UNKNOWN }
enum RefundLineItemRestockType { NO_RESTOCK CANCEL RETURN LEGACY_RESTOCK }
type OrderTransaction {
  id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus! gateway: String
  amountSet: MoneyBag! createdAt: DateTime! processedAt: DateTime parentTransaction: OrderTransaction
}
type OrderTransactionConnection { nodes: [OrderTransaction!]! pageInfo: PageInfo! }
type RefundLineItem {
  id: ID! lineItem: LineItem! quantity: Int! restockType: RefundLineItemRestockType!
  subtotalSet: MoneyBag! totalTaxSet: MoneyBag!
}
type RefundLineItemConnection { nodes: [RefundLineItem!]! pageInfo: PageInfo! }
type Refund {
  id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime note: String totalRefundedSet: MoneyBag!
  transactions(first: Int): OrderTransactionConnection!
  refundLineItems(first: Int): RefundLineItemConnection!
  order: Order!
}
input OrderTransactionInput { amount: Money! gateway: String! kind: OrderTransactionKind! orderId: ID! parentId: ID }
input RefundLineItemInput { lineItemId: ID! quantity: Int! restockType: RefundLineItemRestockType locationId: ID }
input RefundInput {
  orderId: ID! note: String notify: Boolean currency: String
  refundLineItems: [RefundLineItemInput!] transactions: [OrderTransactionInput!]
}
type RefundCreatePayload { refund: Refund order: Order userErrors: [UserError!]! }
extend type Mutation { refundCreate(input: RefundInput!): RefundCreatePayload }
extend type QueryRoot { refund(id: ID!): Refund }
extend type Order { transactions(first: Int): [OrderTransaction!]! }
"""
DEFAULT_BEHAVIOUR = {"transaction_status": "success", "hang_next": 0, "hang_ms": 0}


# -- behaviour (control API) ---------------------------------------------------------------------


def _behaviour_key(domain: str) -> str:
    return state.k("behaviour", "refunds", domain)


def behaviour(domain: str) -> dict[str, Any]:
    raw = get_redis().get(_behaviour_key(domain))
    return {**DEFAULT_BEHAVIOUR, **(json.loads(raw) if raw else {})}


def set_behaviour(domain: str, **rules: Any) -> dict[str, Any]:
    current = {**behaviour(domain), **{k: v for k, v in rules.items() if v is not None}}
    get_redis().set(_behaviour_key(domain), json.dumps(current), ex=state.ORDER_TTL)
    return current


def take_hang(domain: str) -> float:
    """Seconds to hold the next refundCreate answer back (and count it off)."""
    client = get_redis()
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(_behaviour_key(domain))
                current = behaviour(domain)
                if current["hang_next"] <= 0:
                    pipe.unwatch()
                    return 0.0
                current["hang_next"] -= 1
                pipe.multi()
                pipe.set(_behaviour_key(domain), json.dumps(current), ex=state.ORDER_TTL)
                pipe.execute()
                return current["hang_ms"] / 1000
            except redis.WatchError:  # changed meanwhile: read it again
                continue


# -- GraphQL views ---------------------------------------------------------------------------


def _money(amount: Any, currency: str) -> dict[str, Any]:
    money = {"amount": orders.money(Decimal(str(amount))), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def transaction_view(transaction: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> dict[str, Any]:
    parent = by_id.get(transaction.get("parent_id"))
    return {
        "id": transaction["admin_graphql_api_id"], "kind": transaction["kind"].upper(),
        "status": transaction["status"].upper(), "gateway": transaction["gateway"],
        "amountSet": _money(transaction["amount"], transaction["currency"]),
        "createdAt": transaction["created_at"], "processedAt": transaction["processed_at"],
        "parentTransaction": transaction_view(parent, {}) if parent else None,
    }


def _page(items: list[dict[str, Any]], first: int | None) -> dict[str, Any]:
    shown = items[: first or None]
    return {"nodes": shown, "pageInfo": {"hasNextPage": len(shown) < len(items), "hasPreviousPage": False,
                                         "startCursor": None, "endCursor": None}}


def view(document: dict[str, Any], refund: dict[str, Any], order_view=None) -> dict[str, Any]:
    order = document["order"]
    sales = {t["id"]: t for t in document.get("transactions") or []}
    done = sum((Decimal(t["amount"]) for t in refund["transactions"] if t["status"] == "success"), Decimal(0))
    transactions = [transaction_view(t, sales) for t in refund["transactions"]]
    lines = [
        {"id": orders.gid("RefundLineItem", item["id"]), "quantity": item["quantity"],
         "restockType": item["restock_type"].upper(),
         "lineItem": {"id": item["line_item"]["admin_graphql_api_id"], "name": item["line_item"]["name"],
                      "title": item["line_item"]["title"], "sku": item["line_item"]["sku"],
                      "variantTitle": item["line_item"]["variant_title"], "quantity": item["line_item"]["quantity"],
                      "currentQuantity": item["line_item"]["current_quantity"],
                      "unfulfilledQuantity": item["line_item"]["fulfillable_quantity"],
                      "originalUnitPriceSet": _money(item["line_item"]["price"], order["currency"])},
         "subtotalSet": _money(item["subtotal"], order["currency"]),
         "totalTaxSet": _money(item["total_tax"], order["currency"])}
        for item in refund["refund_line_items"]
    ]
    return {
        "id": refund["admin_graphql_api_id"],
        "legacyResourceId": str(refund["id"]),
        "createdAt": refund["created_at"],
        "note": refund.get("note"),
        "totalRefundedSet": _money(done, order["currency"]),
        "transactions": lambda info, first=None: _page(transactions, first),
        "refundLineItems": lambda info, first=None: _page(lines, first),
        "order": lambda info: order_view(document) if order_view else None,
    }


def order_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The refund-related Order fields: refunds and transactions."""
    refund_records.sales(document)  # a paid order stored before transactions were kept gets its sale
    by_id = {t["id"]: t for t in document["transactions"]}
    everything = list(document["transactions"]) + list(refund_records.refund_transactions(document["order"]))
    return {
        "refunds": lambda info, first=None: [view(document, r) for r in document["order"].get("refunds") or []][
            : first or None],
        "transactions": lambda info, first=None: [transaction_view(t, by_id) for t in everything][: first or None],
    }


# -- refundCreate ----------------------------------------------------------------------------


def _error(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def _lines(order: dict[str, Any], refund_input: dict[str, Any]) -> tuple[list, list]:
    by_gid = {line["admin_graphql_api_id"]: line for line in order["line_items"]}
    already: dict[int, int] = {}
    for refund in order.get("refunds") or []:
        for item in refund["refund_line_items"]:
            already[item["line_item_id"]] = already.get(item["line_item_id"], 0) + item["quantity"]
    chosen, errors = [], []
    for index, item in enumerate(refund_input.get("refundLineItems") or []):
        line = by_gid.get(item["lineItemId"])
        where = ["input", "refundLineItems", str(index)]
        if line is None:
            errors.append(_error(where + ["lineItemId"], "Line item does not exist."))
        elif not 0 < item["quantity"] <= line["quantity"] - already.get(line["id"], 0):
            errors.append(_error(where + ["quantity"], "Quantity cannot refund more items than were purchased."))
        else:
            chosen.append((line, item["quantity"]))
    return chosen, errors


def _money_parts(document: dict[str, Any], refund_input: dict[str, Any]) -> tuple[list, list]:
    sales = {t["admin_graphql_api_id"]: t for t in refund_records.sales(document)}
    parts, errors = [], []
    for index, transaction in enumerate(refund_input.get("transactions") or []):
        where = ["input", "transactions", str(index)]
        if transaction["kind"] != "REFUND":
            errors.append(_error(where + ["kind"], "Only refund transactions can be created with a refund."))
            continue
        try:
            amount = Decimal(str(transaction["amount"]))
        except InvalidOperation:
            errors.append(_error(where + ["amount"], "Amount is invalid."))
            continue
        parent = None
        if transaction.get("parentId"):
            parent = sales.get(transaction["parentId"])
            if parent is None:
                errors.append(_error(where + ["parentId"], "Parent transaction does not exist."))
                continue
            if amount > refund_records.remaining_on(document["order"], parent):
                errors.append(_error(where + ["amount"], "Amount exceeds the parent transaction's refundable amount."))
                continue
        parts.append((amount, parent, transaction["gateway"]))
    return parts, errors


def create(shop: dict[str, Any], refund_input: dict[str, Any], *, idempotency_key: str | None) -> dict[str, Any]:
    order_id = fulfil.parse_gid(refund_input.get("orderId"), "Order")
    if order_id is None:
        raise GraphQLError(f"Invalid global id '{refund_input.get('orderId')}'")
    idem_key = state.k("idempotency", "refund", shop["domain"], idempotency_key) if idempotency_key else None
    ids = state.next_ids(1 + len(refund_input.get("refundLineItems") or [])
                         + len(refund_input.get("transactions") or []))
    status = behaviour(shop["domain"])["transaction_status"]

    def change(document: dict[str, Any], pipe) -> dict[str, Any]:
        if document["shop"] != shop["domain"]:
            return {"user_errors": [_error(["input", "orderId"], "Order does not exist.")]}
        order = document["order"]
        if idem_key and (previous := pipe.get(idem_key)):
            first = json.loads(previous)["refund_id"]
            return {"refund": next(r for r in order["refunds"] if r["id"] == first), "replayed": True}
        lines, line_errors = _lines(order, refund_input)
        money, money_errors = _money_parts(document, refund_input)
        if line_errors or money_errors:
            return {"user_errors": line_errors + money_errors}
        amount = sum((part[0] for part in money), Decimal(0))
        if amount < 0 or (not money and not lines) or amount > refund_records.refundable(order):
            return {"user_errors": [_error(["input", "transactions"], "Refund amount exceeds the refundable amount.")]}
        refund = refund_records.record(document, ids=ids, now=utcnow(), note=refund_input.get("note"), lines=lines,
                                       money=money, status=status, idempotency_key=idempotency_key)
        also = [lambda p: p.set(idem_key, json.dumps({"refund_id": refund["id"]}), ex=state.ORDER_TTL)] if idem_key else []
        return {"write": True, "refund": refund, "also": also}

    result = state.update_order(order_id, change, watch=(idem_key,) if idem_key else ())
    if result is None:
        return {"refund": None, "userErrors": [_error(["input", "orderId"], "Order does not exist.")], "deliveries": []}
    if result.get("user_errors"):
        return {"refund": None, "userErrors": result["user_errors"], "deliveries": []}
    document = state.get_order(order_id)
    deliveries = [] if result.get("replayed") else sent_for(shop, document, result["refund"])
    return {"document": document, "refund": result["refund"], "userErrors": [], "deliveries": deliveries}


def sent_for(shop: dict[str, Any], document: dict[str, Any], refund: dict[str, Any]) -> list[delivery.Delivery]:
    """What Shopify sends after a refund: refunds/create, then orders/updated (payment state)."""
    return [webhooks.webhook(shop, "refunds/create", refund), webhooks.webhook(shop, "orders/updated", document["order"])]


def _resolve_refund_create(info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    from app.sandbox.store.schema import _order  # the Order view lives with the schema

    directive = get_directive_values(info.schema.get_directive("idempotent"), info.field_nodes[0],
                                     info.variable_values)
    shop = info.context["shop"]
    result = create(shop, input, idempotency_key=directive["key"] if directive else None)
    info.context["deliveries"].extend(result["deliveries"])
    if result["refund"] is None:
        return {"refund": None, "order": None, "userErrors": result["userErrors"]}
    info.context["hold_seconds"] = take_hang(shop["domain"])
    document = result["document"]
    return {"refund": view(document, result["refund"], _order), "order": _order(document), "userErrors": []}


def _resolve_refund(info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:  # noqa: A002
    from app.sandbox.store.schema import _order

    refund_id = fulfil.parse_gid(id, "Refund")
    if refund_id is None:
        raise GraphQLError(f"Invalid global id '{id}'")
    for document in state.list_orders(info.context["shop"]["domain"]):
        for refund in document["order"].get("refunds") or []:
            if refund["id"] == refund_id:
                return view(document, refund, _order)
    return None


ROOT = {"refundCreate": _resolve_refund_create, "refund": _resolve_refund}


# -- the merchant in the store admin (control API) ---------------------------------------------


def merchant_refund(order_id: int, amount: str, note: str | None,
                    line_items: list[dict[str, Any]] | None = None) -> tuple[dict, list[delivery.Delivery]]:
    """A refund the merchant makes in the store admin (or another app): Shopify's suggested
    allocation over the order's sales, in the shop's transaction behaviour."""
    # The refund, its lines and a transaction per sale (a few at most): ids to spare.
    ids = state.next_ids(1 + len(line_items or []) + 8)
    created: dict[str, Any] = {}

    def change(document: dict[str, Any]) -> None:
        order = document["order"]
        status = behaviour(document["shop"])["transaction_status"]
        value = Decimal(amount)
        if value <= 0 or value > refund_records.refundable(order):
            raise ControlError(409, "refund amount must be positive and at most what remains paid")
        by_id = {line["id"]: line for line in order["line_items"]}
        lines = []
        for item in line_items or []:
            line = by_id.get(int(item.get("line_item_id") or 0))
            if line is None:
                raise ControlError(400, f"no line item {item.get('line_item_id')} on this order")
            lines.append((line, int(item.get("quantity") or 1)))
        created.update(refund_records.record(
            document, ids=ids, now=utcnow(), note=note, lines=lines,
            money=refund_records.allocate(document, value), status=status,
        ))

    document, shop = _mutate(order_id, change)
    return document, sent_for(shop, document, created)


def settle(order_id: int, refund_id: int, status: str) -> tuple[dict, list[delivery.Delivery]]:
    """A pending refund transaction goes through (or fails) at the payment provider."""
    def change(document: dict[str, Any]) -> None:
        order = document["order"]
        refund = next((r for r in order.get("refunds") or [] if r["id"] == refund_id), None)
        if refund is None:
            raise ControlError(404, f"no refund {refund_id} on order {order_id}")
        pending = [t for t in refund["transactions"] if t["status"] == "pending"]
        if not pending:
            raise ControlError(409, "the refund has no pending transaction")
        for transaction in pending:
            transaction["status"], transaction["processed_at"] = status, orders.timestamp(utcnow())
        refund_records.settle_payment(order)

    document, shop = _mutate(order_id, change)
    return document, [webhooks.webhook(shop, "orders/updated", document["order"])]
