"""Webhook subscriptions per shop (webhookSubscriptionCreate / webhookSubscriptions / ...Delete).

Once a shop has subscriptions, each topic is delivered to its subscription's address; shops
registered only through the control API (no subscriptions) keep receiving every topic at the
shop's webhook_url, so older tests and the demo work unchanged. Uninstalling removes them all,
as Shopify does.
"""

from __future__ import annotations

import json
from typing import Any

from app.db import utcnow
from app.redis import get_redis
from app.sandbox.store import state


def topic_enum(topic: str) -> str:
    """orders/create -> ORDERS_CREATE, as WebhookSubscriptionTopic spells it."""
    return topic.replace("/", "_").upper()


def _key(domain: str) -> str:
    return state.k("shop", domain, "subscriptions")


def list_all(domain: str) -> list[dict[str, Any]]:
    rows = [json.loads(raw) for raw in get_redis().hvals(_key(domain))]
    return sorted(rows, key=lambda row: row["id"])


def address_for(domain: str, topic: str) -> str | None:
    for row in list_all(domain):
        if row["topic"] == topic_enum(topic):
            return row["uri"]
    return None


def create(domain: str, topic: str, uri: str | None) -> dict[str, Any]:
    if not uri or not uri.startswith(("https://", "http://")):
        return {"webhookSubscription": None,
                "userErrors": [{"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}]}
    if any(row["topic"] == topic and row["uri"] == uri for row in list_all(domain)):
        return {"webhookSubscription": None,
                "userErrors": [{"field": ["webhookSubscription", "callbackUrl"],
                                "message": "Address for this topic has already been taken"}]}
    number = next(state.next_ids(1))
    row = {"id": f"gid://shopify/WebhookSubscription/{number}", "topic": topic, "uri": uri, "format": "JSON",
           "createdAt": utcnow().replace(microsecond=0).isoformat()}
    get_redis().hset(_key(domain), row["id"], json.dumps(row))
    return {"webhookSubscription": _view(row), "userErrors": []}


def delete(domain: str, subscription_id: str) -> dict[str, Any]:
    if not get_redis().hdel(_key(domain), subscription_id):
        return {"deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}
    return {"deletedWebhookSubscriptionId": subscription_id, "userErrors": []}


def delete_all(domain: str) -> None:
    get_redis().delete(_key(domain))


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "callbackUrl": row["uri"]}


def views(domain: str, topics: list[str] | None) -> list[dict[str, Any]]:
    return [_view(row) for row in list_all(domain) if not topics or row["topic"] in topics]
