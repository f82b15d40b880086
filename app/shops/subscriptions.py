"""Webhook subscriptions: one per subscribed topic (app/webhooks/topics.py), all to POST
/webhooks/shopify. Uninstalling deletes every subscription, so they are created on each install,
checked at worker start and every hour, and again after a scope change (a topic needs its scope).
"""

from __future__ import annotations

from typing import Any

from app.config import get_settings
from app.db import session_scope
from app.evidence import service as evidence
from app.shops.admin_client import AdminClient, UserErrors
from app.shops.models import Shop
from app.webhooks import topics

LIST = """
query($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""
CREATE = """
mutation($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""
DELETE = """
mutation($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""


def topic_enum(topic: str) -> str:
    return topic.replace("/", "_").upper()


def address() -> str:
    return get_settings().public_base + "/webhooks/shopify"


def _existing(client: AdminClient) -> list[dict[str, Any]]:
    rows, after = [], None
    while True:
        page = client.query(LIST, {"after": after})["webhookSubscriptions"]
        rows += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


def sync(shop: Shop, client: AdminClient) -> dict[str, int]:
    """Create what is missing, remove ours that point elsewhere or name a topic we dropped.
    Outside any transaction: the client records each mutation in the ledger itself."""
    uri = address()
    wanted = {topic_enum(t) for t in topics.SUBSCRIBED}
    existing = _existing(client)
    have = {row["topic"] for row in existing if row["uri"] == uri}
    created = removed = 0
    for row in existing:
        ours = row["uri"].endswith("/webhooks/shopify")
        if ours and (row["uri"] != uri or row["topic"] not in wanted):
            client.mutate(DELETE, {"id": row["id"]})
            removed += 1
    for topic in sorted(wanted - have):
        try:
            client.mutate(CREATE, {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}})
            created += 1
        except UserErrors as error:
            # Another sync (worker start, install, scope change) created it meanwhile: in place.
            if not all("already been taken" in str(e.get("message")) for e in error.errors):
                raise
    outcome = {"created": created, "removed": removed, "subscribed": len(wanted)}
    if not created and not removed:
        return outcome  # the hourly check found everything in place: nothing to prove
    with session_scope() as session:
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="shop.webhooks_reconciled",
                        source="dropguard", data=outcome)
    return outcome
