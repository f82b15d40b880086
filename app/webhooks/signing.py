"""Shopify's webhook signature: base64 HMAC-SHA256 of the raw body, keyed with the app secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def shopify_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_shopify_hmac(body: bytes, header: str | None, secret: str) -> bool:
    if not header:
        return False
    return hmac.compare_digest(shopify_hmac(body, secret).encode(), header.strip().encode())
