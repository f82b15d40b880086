"""The generic supplier protocol's signature: hex HMAC-SHA256 over "<timestamp>." + raw body."""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_SKEW_SECONDS = 300


def supplier_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, api_key: str | None = None) -> dict[str, str]:
    """Headers for a signed request (the X-Api-Key only on requests to the supplier)."""
    stamp = str(int(time.time()))
    headers = {"X-Timestamp": stamp, "X-Signature": supplier_signature(secret, stamp, body)}
    if api_key is not None:
        headers["X-Api-Key"] = api_key
    return headers


def check_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes) -> str | None:
    """None when the request is authentic and fresh, otherwise the reason to refuse it."""
    if not timestamp or not signature:
        return "missing X-Timestamp or X-Signature"
    try:
        stamp = int(timestamp)
    except ValueError:
        return "X-Timestamp is not unix seconds"
    if abs(time.time() - stamp) > MAX_SKEW_SECONDS:
        return f"X-Timestamp more than {MAX_SKEW_SECONDS} s from now"
    expected = supplier_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        return "bad X-Signature"
    return None
