"""The subset of Shopify's Admin GraphQL schema the app uses, with resolvers over stored orders.

Objects are dicts; a callable value is a field with arguments (graphql-core's default resolver
calls it with `info` and the arguments).
"""

from __future__ import annotations

import base64
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, build_schema
from graphql.execution.values import get_directive_values

from app.sandbox.store import (
    disputes,
    events,
    fulfil,
    history,
    inventory_schema,
    order_update,
    refunds,
    risk_assessments,
    state,
    subscriptions,
)
from app.sandbox.store.sdl import SDL

SCHEMA = build_schema(SDL + disputes.SDL + inventory_schema.SDL + refunds.SDL + risk_assessments.SDL + order_update.SDL)
MAX_PAGE = 250
FULFILLMENT_STATUS = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED",
                      "restocked": "RESTOCKED"}


def _connection(items: list[dict[str, Any]], first: int | None = None, last: int | None = None,
                after: str | None = None, before: str | None = None, reverse: bool = False,
                **_: Any) -> dict[str, Any]:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    if (first or 0) > MAX_PAGE or (last or 0) > MAX_PAGE:
        raise GraphQLError(f"The maximum page size is {MAX_PAGE}.", extensions={"code": "BAD_REQUEST"})
    indexed = list(enumerate(reversed(items) if reverse else items))
    cursor = lambda i: base64.b64encode(f"cursor:{i}".encode()).decode()  # noqa: E731
    position = lambda c: int(base64.b64decode(c).decode().split(":")[1])  # noqa: E731
    try:
        if after:
            indexed = [(i, item) for i, item in indexed if i > position(after)]
        if before:
            indexed = [(i, item) for i, item in indexed if i < position(before)]
    except (ValueError, IndexError):
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_REQUEST"}) from None
    total = len(indexed)
    page = indexed[:first] if first is not None else indexed[max(0, total - last) :]  # type: ignore[operator]
    return {
        "nodes": [item for _, item in page],
        "edges": [{"cursor": cursor(i), "node": item} for i, item in page],
        "pageInfo": {
            "hasNextPage": first is not None and total > len(page),
            "hasPreviousPage": last is not None and total > len(page),
            "startCursor": cursor(page[0][0]) if page else None,
            "endCursor": cursor(page[-1][0]) if page else None,
        },
    }


def _line_item(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": line["admin_graphql_api_id"], "name": line["name"], "title": line["title"], "sku": line["sku"],
        "variantTitle": line["variant_title"], "quantity": line["quantity"],
        "currentQuantity": line["current_quantity"], "unfulfilledQuantity": line["fulfillable_quantity"],
        "originalUnitPriceSet": history.money_bag(line["price"], line["price_set"]["shop_money"]["currency_code"]),
    }


def _fulfillment_order(document: dict[str, Any], fulfillment_order: dict[str, Any]) -> dict[str, Any]:
    order = document["order"]
    lines = {line["id"]: line for line in order["line_items"]}
    items = [
        {
            "id": f"gid://shopify/FulfillmentOrderLineItem/{item['id']}",
            "remainingQuantity": item["remaining_quantity"], "totalQuantity": item["total_quantity"],
            "sku": lines[item["line_item_id"]]["sku"], "productTitle": lines[item["line_item_id"]]["title"],
            "variantTitle": lines[item["line_item_id"]]["variant_title"],
            "lineItem": _line_item(lines[item["line_item_id"]]),
        }
        for item in fulfillment_order["line_items"]
    ]
    return {
        "id": f"gid://shopify/FulfillmentOrder/{fulfillment_order['id']}",
        "status": fulfillment_order["status"].upper(),
        "requestStatus": "UNSUBMITTED",
        "createdAt": fulfillment_order["created_at"],
        "updatedAt": fulfillment_order.get("updated_at", fulfillment_order["created_at"]),
        "orderId": order["admin_graphql_api_id"],
        "orderName": order["name"],
        "order": lambda info: _order(document),
        "lineItems": lambda info, **args: _connection(items, **args),
    }


def _event(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event["admin_graphql_api_id"], "status": event["status"].upper(), "happenedAt": event["happened_at"],
        "createdAt": event["created_at"], "message": event["message"],
        "estimatedDeliveryAt": event["estimated_delivery_at"],
        **{key: event[key] for key in ("city", "province", "country", "zip", "address1")},
    }


def _fulfillment(document: dict[str, Any], fulfillment: dict[str, Any]) -> dict[str, Any]:
    urls = fulfillment["tracking_urls"]
    tracking = [
        {"company": fulfillment["tracking_company"], "number": number, "url": urls[i] if i < len(urls) else None}
        for i, number in enumerate(fulfillment["tracking_numbers"])
    ]
    scans = [_event(e) for e in events.events_of(document, fulfillment["id"])]
    display = (fulfillment.get("shipment_status") or "fulfilled").upper()
    return {
        "id": fulfillment["admin_graphql_api_id"],
        "legacyResourceId": str(fulfillment["id"]),
        "name": fulfillment["name"],
        "status": fulfillment["status"].upper(),
        "displayStatus": display if fulfillment["status"] == "success" else "CANCELED",
        "events": lambda info, **args: _connection(scans, **args),
        "createdAt": fulfillment["created_at"],
        "updatedAt": fulfillment["updated_at"],
        "trackingInfo": lambda info, first=None: tracking[:first] if first else tracking,
        "order": lambda info: _order(document),
    }


def _order(document: dict[str, Any]) -> dict[str, Any]:
    order = document["order"]
    lines = [_line_item(line) for line in order["line_items"]]
    return {
        "id": order["admin_graphql_api_id"],
        "legacyResourceId": str(order["id"]),
        "name": order["name"],
        "email": order["email"],
        "createdAt": order["created_at"],
        "updatedAt": order["updated_at"],
        "cancelledAt": order["cancelled_at"],
        "closed": order["closed_at"] is not None,
        "displayFinancialStatus": (order["financial_status"] or "pending").upper(),
        "displayFulfillmentStatus": FULFILLMENT_STATUS.get(order["fulfillment_status"], "UNFULFILLED"),
        "lineItems": lambda info, **args: _connection(lines, **args),
        "fulfillmentOrders": lambda info, **args: _connection(
            [_fulfillment_order(document, fo) for fo in document["fulfillment_orders"]], **args
        ),
        "fulfillments": lambda info, first=None: [
            _fulfillment(document, f) for f in order["fulfillments"]
        ][: first or None],
        **history.order_fields(document),
        **refunds.order_fields(document),
        **risk_assessments.order_fields(document),
    }


order_view = _order  # orderUpdate's payload shows the order as a query does


def _shop(info: GraphQLResolveInfo) -> dict[str, Any]:
    return info.context["shop"]


def _load(info: GraphQLResolveInfo, order_id: int | None) -> dict[str, Any] | None:
    document = state.get_order(order_id) if order_id else None
    # Another shop's order does not exist for this token, as on Shopify.
    return document if document and document["shop"] == _shop(info)["domain"] else None


def _global_id(value: str, kind: str) -> int:
    number = fulfil.parse_gid(value, kind)
    if number is None:
        raise GraphQLError(f"Invalid global id '{value}'")
    return number


def _resolve_order(info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:  # noqa: A002
    document = _load(info, _global_id(id, "Order"))
    return _order(document) if document else None


def _resolve_fulfillment_order(info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:  # noqa: A002
    fo_id = _global_id(id, "FulfillmentOrder")
    document = _load(info, state.order_id_for_fulfillment_order(fo_id))
    if not document:
        return None
    return next(_fulfillment_order(document, fo) for fo in document["fulfillment_orders"] if fo["id"] == fo_id)


def _resolve_shop(info: GraphQLResolveInfo) -> dict[str, Any]:
    shop = _shop(info)
    return {"id": f"gid://shopify/Shop/{shop['id']}", "name": shop["name"], "myshopifyDomain": shop["domain"],
            "currencyCode": shop["currency"]}


def _resolve_fulfillment_create(info: GraphQLResolveInfo, fulfillment: dict[str, Any],
                                message: str | None = None) -> dict[str, Any]:
    directive = get_directive_values(SCHEMA.get_directive("idempotent"), info.field_nodes[0], info.variable_values)
    shop = _shop(info)
    result = fulfil.create(shop, fulfillment, idempotency_key=directive["key"] if directive else None)
    info.context["deliveries"].extend(result["deliveries"])
    created = result["fulfillment"]
    document = state.get_order(created["order_id"]) if created else None
    return {
        "fulfillment": _fulfillment(document, created) if created and document else None,
        "userErrors": result["user_errors"],
    }


def _resolve_tracking_update(info: GraphQLResolveInfo, fulfillmentId: str,  # noqa: N803 - GraphQL names
                             trackingInfoInput: dict[str, Any], notifyCustomer: bool | None = None) -> dict:  # noqa: N803
    outcome = events.update_tracking(_shop(info), fulfillmentId, trackingInfoInput, notifyCustomer)
    info.context["deliveries"].extend(outcome["deliveries"])
    fulfillment = outcome["result"]
    document = state.get_order(fulfillment["order_id"]) if fulfillment else None
    return {"fulfillment": _fulfillment(document, fulfillment) if document else None,
            "userErrors": outcome["user_errors"]}


def _resolve_event_create(info: GraphQLResolveInfo, fulfillmentEvent: dict[str, Any]) -> dict:  # noqa: N803
    outcome = events.create_event(_shop(info), fulfillmentEvent)
    info.context["deliveries"].extend(outcome["deliveries"])
    event = outcome["result"]
    return {"fulfillmentEvent": _event(event) if event else None, "userErrors": outcome["user_errors"]}


def _resolve_orders(info: GraphQLResolveInfo, query: str | None = None, sortKey: str | None = None,  # noqa: N803
                    **args: Any) -> dict[str, Any]:
    documents = history.matching(_shop(info)["domain"], query, sortKey)
    connection = _connection(documents, **args)
    connection["nodes"] = [_order(d) for d in connection["nodes"]]
    connection["edges"] = [{**edge, "node": _order(edge["node"])} for edge in connection["edges"]]
    return connection


def _resolve_orders_count(info: GraphQLResolveInfo, query: str | None = None, limit: int | None = None) -> dict:
    count = len(history.matching(_shop(info)["domain"], query, None))
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def _resolve_subscriptions(info: GraphQLResolveInfo, topics: list[str] | None = None, **args: Any) -> dict:
    return _connection(subscriptions.views(_shop(info)["domain"], topics), **args)


def _resolve_subscription_create(info: GraphQLResolveInfo, topic: str,
                                 webhookSubscription: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
    uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
    return subscriptions.create(_shop(info)["domain"], topic, uri)


def _resolve_subscription_delete(info: GraphQLResolveInfo, id: str) -> dict[str, Any]:  # noqa: A002
    return subscriptions.delete(_shop(info)["domain"], id)


ROOT = {
    "orders": _resolve_orders,
    "ordersCount": _resolve_orders_count,
    "webhookSubscriptions": _resolve_subscriptions,
    "webhookSubscriptionCreate": _resolve_subscription_create,
    "webhookSubscriptionDelete": _resolve_subscription_delete,
    "shop": _resolve_shop,
    "order": _resolve_order,
    "fulfillmentOrder": _resolve_fulfillment_order,
    "fulfillmentCreate": _resolve_fulfillment_create,
    "fulfillmentTrackingInfoUpdate": _resolve_tracking_update,
    "fulfillmentEventCreate": _resolve_event_create,
    **disputes.ROOT,
    **inventory_schema.ROOT,
    **refunds.ROOT,
    **risk_assessments.ROOT,
    **order_update.ROOT,
}
