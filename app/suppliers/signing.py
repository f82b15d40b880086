"""Protocol A signatures: hex HMAC-SHA256 over "{timestamp}." + raw body, both directions."""

from __future__ import annotations

import hashlib
import hmac
import time

# A signed message older or newer than this is refused, so a captured one cannot be replayed later.
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, *, secret: str, api_key: str | None = None, now: float | None = None
) -> dict[str, str]:
    """Headers for a signed message; the API key only goes on requests to the supplier."""
    timestamp = str(int(now if now is not None else time.time()))
    headers = {"X-Timestamp": timestamp, "X-Signature": signature(secret, timestamp, body)}
    if api_key is not None:
        headers["X-Api-Key"] = api_key
    return headers


def verify(
    body: bytes, timestamp: str | None, given: str | None, secret: str, *, now: float | None = None
) -> str | None:
    """None when the message is authentic and fresh, else the reason it is not."""
    if not timestamp or not given:
        return "missing X-Timestamp or X-Signature"
    if not timestamp.strip().isdigit():
        return "X-Timestamp is not unix seconds"
    current = now if now is not None else time.time()
    if abs(current - int(timestamp)) > TOLERANCE_SECONDS:
        return "X-Timestamp is too far from now"
    if not hmac.compare_digest(signature(secret, timestamp.strip(), body), given.strip().lower()):
        return "signature does not match"
    return None
