"""Changes to an existing fulfilment: new tracking details and carrier events (fulfillmentEventCreate),
with the webhooks Shopify sends for them."""

from __future__ import annotations

from typing import Any

from app.db import utcnow
from app.sandbox.store import orders, state, webhooks
from app.sandbox.store.fulfil import parse_gid


def _missing(field: list[str]) -> dict[str, Any]:
    return {"result": None, "user_errors": [{"field": field, "message": "Fulfillment does not exist."}],
            "deliveries": []}


def _change_fulfillment(shop: dict[str, Any], fulfillment_gid: str, field: list[str], change) -> dict[str, Any]:
    """Apply `change(document, fulfillment)` -> (result, user_errors, topics and payloads) under
    WATCH on the fulfilment's order; returns the result, userErrors and the webhooks to send."""
    fulfillment_id = parse_gid(fulfillment_gid, "Fulfillment")
    order_id = state.order_id_for_fulfillment(fulfillment_id) if fulfillment_id else None
    if order_id is None:
        return _missing(field)

    def apply(document: dict[str, Any], _pipe) -> dict[str, Any]:
        if document["shop"] != shop["domain"]:
            return {"missing": True}
        fulfillment = next(f for f in document["order"]["fulfillments"] if f["id"] == fulfillment_id)
        if fulfillment["status"] != "success":
            return {"user_errors": [{"field": field, "message": f"Fulfillment is {fulfillment['status']}."}]}
        result, sends = change(document, fulfillment)
        return {"write": True, "result": result, "sends": sends}

    outcome = state.update_order(order_id, apply) or {"missing": True}
    if outcome.get("missing"):
        return _missing(field)
    deliveries = [webhooks.webhook(shop, topic, payload) for topic, payload in outcome.get("sends", [])]
    return {"result": outcome.get("result"), "user_errors": outcome.get("user_errors", []), "deliveries": deliveries}


def update_tracking(shop: dict[str, Any], fulfillment_gid: str, tracking: dict[str, Any],
                    notify: bool | None) -> dict[str, Any]:
    def change(document: dict[str, Any], fulfillment: dict[str, Any]):
        numbers = [n for n in [tracking.get("number"), *(tracking.get("numbers") or [])] if n]
        urls = [u for u in [tracking.get("url"), *(tracking.get("urls") or [])] if u]
        fulfillment.update(
            tracking_company=tracking.get("company") or fulfillment["tracking_company"],
            tracking_number=numbers[0] if numbers else None, tracking_numbers=numbers,
            tracking_url=urls[0] if urls else None, tracking_urls=urls,
            updated_at=orders.timestamp(utcnow()),
        )
        if notify is not None:
            fulfillment["notify_customer"] = notify
        return fulfillment, [("fulfillments/update", fulfillment)]

    return _change_fulfillment(shop, fulfillment_gid, ["fulfillmentId"], change)


def create_event(shop: dict[str, Any], event_input: dict[str, Any]) -> dict[str, Any]:
    event_id = next(state.next_ids(1))

    def change(document: dict[str, Any], fulfillment: dict[str, Any]):
        now = orders.timestamp(utcnow())
        status = event_input["status"].lower()
        event = {
            "id": event_id,
            "admin_graphql_api_id": orders.gid("FulfillmentEvent", event_id),
            "fulfillment_id": fulfillment["id"],
            "order_id": document["order"]["id"],
            "shop_id": shop["id"],
            "status": status,
            "message": event_input.get("message"),
            "happened_at": event_input.get("happenedAt") or now,
            "estimated_delivery_at": event_input.get("estimatedDeliveryAt"),
            **{key: event_input.get(key) for key in ("city", "province", "country", "zip", "address1",
                                                     "latitude", "longitude")},
            "created_at": now,
            "updated_at": now,
        }
        document.setdefault("fulfillment_events", []).append(event)
        fulfillment.update(shipment_status=status, updated_at=now)
        return event, [("fulfillment_events/create", event), ("fulfillments/update", fulfillment)]

    return _change_fulfillment(shop, event_input["fulfillmentId"], ["fulfillmentEvent", "fulfillmentId"], change)


def events_of(document: dict[str, Any], fulfillment_id: int) -> list[dict[str, Any]]:
    return [e for e in document.get("fulfillment_events", []) if e["fulfillment_id"] == fulfillment_id]

