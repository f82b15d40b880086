"""Webhooks from the store, signed and addressed exactly as Shopify sends them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from app.config import get_settings
from app.db import utcnow
from app.sandbox import delivery
from app.sandbox.store import subscriptions


def target(shop: dict[str, Any], topic: str | None = None) -> str:
    subscribed = subscriptions.address_for(shop["domain"], topic) if topic else None
    return subscribed or shop.get("webhook_url") or get_settings().public_base + "/webhooks/shopify"


def webhook(shop: dict[str, Any], topic: str, payload: dict[str, Any]) -> delivery.Delivery:
    """One delivery: a fresh event id per topic and action (the receiver dedupes on it), and the
    same webhook id, trigger time and bytes on every retry."""
    settings = get_settings()
    return delivery.Delivery(
        url=target(shop, topic),
        body=json.dumps(payload),
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop["domain"],
            "X-Shopify-API-Version": settings.shopify_api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": utcnow().isoformat().replace("+00:00", "Z"),
        },
        signer="shopify",
        label=topic,
        backoff=list(delivery.SHOPIFY_BACKOFF),
    )


async def send_now(deliveries: list[delivery.Delivery]) -> list[bool]:
    """First attempts, in order, before the caller answers; failures continue in the runner."""
    results = []
    async with httpx.AsyncClient() as client:
        for item in deliveries:
            results.append(await delivery.send_async(item, client))
    return results


def send_later(deliveries: list[delivery.Delivery]) -> None:
    delivery.send_later(*deliveries)
