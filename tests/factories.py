"""Plain functions that build the store's payloads, signatures and session tokens."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.webhooks.signing import shopify_hmac

API_KEY = "test-api-key"
API_SECRET = "test-api-secret"


def signed_headers(
    body: bytes,
    *,
    shop_domain: str,
    topic: str,
    event_id: str | None = None,
    secret: str = API_SECRET,
    content_type: str = "application/json",
) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        "X-Shopify-Hmac-Sha256": shopify_hmac(body, secret),
    }


def session_token(shop_domain: str, *, secret: str = API_SECRET, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


def order_payload(
    *,
    order_id: int | None = None,
    number: int | None = None,
    financial_status: str = "paid",
    updated_at: datetime | None = None,
    email: str = "ada@example.com",
    locale: str = "en",
    country: str = "US",
    lines: int = 1,
) -> dict[str, Any]:
    order_id = order_id or random.randint(10**12, 10**13)
    number = number or random.randint(1000, 99999)
    updated = updated_at or datetime.now(UTC)
    line_items = [
        {
            "id": order_id * 10 + i,
            "product_id": 7000 + i,
            "variant_id": 8000 + i,
            "sku": f"SKU-{i}",
            "title": f"Product {i}",
            "variant_title": "Default",
            "quantity": 1 + i,
            "price": "19.90",
        }
        for i in range(lines)
    ]
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "email": email,
        "created_at": (updated - timedelta(minutes=1)).isoformat(),
        "updated_at": updated.isoformat(),
        "currency": "USD",
        "total_price": "39.80",
        "financial_status": financial_status,
        "fulfillment_status": None,
        "cancelled_at": None,
        "customer_locale": locale,
        "customer": {"id": order_id + 1, "email": email, "first_name": "Ada", "last_name": "Lovelace"},
        "shipping_address": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "address1": "12 Analytical Row",
            "city": "Springfield",
            "zip": "62704",
            "province_code": "IL",
            "country_code": country,
            "phone": "+12175550123",
        },
        "line_items": line_items,
    }
