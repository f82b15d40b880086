"""fulfillmentCreate against the stored fulfilment orders, with Shopify's userErrors and webhooks."""

from __future__ import annotations

import json
from typing import Any

from app.db import utcnow
from app.sandbox import delivery
from app.sandbox.store import orders, state, webhooks

IDEMPOTENCY_TTL = 24 * 3600
UNFULFILLABLE = ("closed", "cancelled", "incomplete")


def parse_gid(value: Any, kind: str) -> int | None:
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    tail = value[len(prefix) :].split("?")[0]
    return int(tail) if tail.isdigit() else None


def _error(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def _plan(
    document: dict[str, Any], groups: list[dict[str, Any]]
) -> tuple[list[tuple[dict, dict, int]], list[dict[str, Any]]]:
    """Which fulfilment-order lines to fulfil and how many, or the userErrors that forbid it."""
    by_id = {fo["id"]: fo for fo in document["fulfillment_orders"]}
    plan, errors = [], []
    for index, group in enumerate(groups):
        where = ["fulfillment", "lineItemsByFulfillmentOrder", str(index)]
        fulfillment_order = by_id[parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder")]
        if fulfillment_order["status"] in UNFULFILLABLE:
            errors.append(_error(where + ["fulfillmentOrderId"], (
                f"Fulfillment order {group['fulfillmentOrderId']} has an unfulfillable status= "
                f"{fulfillment_order['status']}."
            )))
            continue
        lines = {line["id"]: line for line in fulfillment_order["line_items"]}
        wanted = group.get("fulfillmentOrderLineItems")
        if not wanted:
            plan += [(fulfillment_order, line, line["remaining_quantity"])
                     for line in fulfillment_order["line_items"] if line["remaining_quantity"] > 0]
            continue
        for item_index, item in enumerate(wanted):
            line = lines.get(parse_gid(item["id"], "FulfillmentOrderLineItem"))
            item_where = where + ["fulfillmentOrderLineItems", str(item_index)]
            if line is None:
                errors.append(_error(item_where + ["id"], "Fulfillment order line item does not exist."))
            elif not 0 < item["quantity"] <= line["remaining_quantity"]:
                errors.append(_error(item_where + ["quantity"], "Invalid fulfillment order line item quantity requested."))
            else:
                plan.append((fulfillment_order, line, item["quantity"]))
    if not errors and not plan:
        errors.append(_error(["fulfillment"], "No fulfillable line items were found."))
    return plan, errors


def _apply(document: dict[str, Any], plan: list[tuple[dict, dict, int]], fulfillment_id: int,
           fulfillment_input: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    order = document["order"]
    lines_by_id = {line["id"]: line for line in order["line_items"]}
    fulfilled = []
    for fulfillment_order, line, quantity in plan:
        line["remaining_quantity"] -= quantity
        order_line = lines_by_id[line["line_item_id"]]
        order_line["fulfillable_quantity"] -= quantity
        order_line["fulfillment_status"] = "fulfilled" if order_line["fulfillable_quantity"] == 0 else "partial"
        fulfilled.append((order_line, quantity))
        done = all(item["remaining_quantity"] == 0 for item in fulfillment_order["line_items"])
        fulfillment_order["status"] = "closed" if done else "in_progress"
        fulfillment_order["updated_at"] = orders.timestamp(now)
    complete = all(line["fulfillable_quantity"] == 0 for line in order["line_items"])
    order["fulfillment_status"] = "fulfilled" if complete else "partial"
    orders.touch(order, now)
    fulfillment = orders.fulfillment_rest(
        order, fulfillment_id, len(order["fulfillments"]) + 1, fulfilled,
        fulfillment_input.get("trackingInfo") or {}, bool(fulfillment_input.get("notifyCustomer")), now,
    )
    order["fulfillments"].append(fulfillment)
    return fulfillment


def create(
    shop: dict[str, Any], fulfillment_input: dict[str, Any], *, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Returns {"fulfillment": REST fulfilment | None, "order_document", "user_errors",
    "deliveries"}; a repeat with the same idempotency key returns the first result unchanged."""
    groups = fulfillment_input.get("lineItemsByFulfillmentOrder") or []
    if not groups:
        return {"fulfillment": None, "user_errors": [
            _error(["fulfillment", "lineItemsByFulfillmentOrder"], "At least one fulfillment order is required.")
        ], "deliveries": []}
    order_ids = set()
    for index, group in enumerate(groups):
        fo_id = parse_gid(group.get("fulfillmentOrderId"), "FulfillmentOrder")
        order_id = state.order_id_for_fulfillment_order(fo_id) if fo_id else None
        if order_id is None:
            return {"fulfillment": None, "user_errors": [_error(
                ["fulfillment", "lineItemsByFulfillmentOrder", str(index), "fulfillmentOrderId"],
                "Fulfillment order does not exist.",
            )], "deliveries": []}
        order_ids.add(order_id)
    if len(order_ids) > 1:
        return {"fulfillment": None, "user_errors": [
            _error(["fulfillment"], "All fulfillment orders must belong to the same order.")
        ], "deliveries": []}
    (order_id,) = order_ids
    idem_key = state.k("idempotency", shop["domain"], idempotency_key) if idempotency_key else None
    fulfillment_id = next(state.next_ids(1))

    def change(document: dict[str, Any], pipe) -> dict[str, Any]:
        if document["shop"] != shop["domain"]:
            return {"user_errors": [_error(["fulfillment"], "Fulfillment order does not exist.")]}
        if idem_key and (previous := pipe.get(idem_key)):
            first = json.loads(previous)["fulfillment_id"]
            match = next(f for f in document["order"]["fulfillments"] if f["id"] == first)
            return {"fulfillment": match, "replayed": True}
        plan, errors = _plan(document, groups)
        if errors:
            return {"user_errors": errors}
        fulfillment = _apply(document, plan, fulfillment_id, fulfillment_input)
        also = [lambda p: state.index_fulfillment(p, shop["domain"], fulfillment_id, order_id)]
        if idem_key:
            also.append(lambda p: p.set(idem_key, json.dumps({"fulfillment_id": fulfillment_id}), ex=IDEMPOTENCY_TTL))
        return {"write": True, "fulfillment": fulfillment, "also": also}

    result = state.update_order(order_id, change, watch=(idem_key,) if idem_key else ()) or {}
    fulfillment = result.get("fulfillment")
    deliveries: list[delivery.Delivery] = []
    if result.get("write"):
        order = state.get_order(order_id)["order"]  # type: ignore[index]
        topic = "orders/fulfilled" if order["fulfillment_status"] == "fulfilled" else "orders/partially_fulfilled"
        deliveries = [
            webhooks.webhook(shop, "fulfillments/create", fulfillment),
            webhooks.webhook(shop, "orders/updated", order),
            webhooks.webhook(shop, topic, order),
        ]
    return {"fulfillment": fulfillment, "user_errors": result.get("user_errors", []), "deliveries": deliveries}
