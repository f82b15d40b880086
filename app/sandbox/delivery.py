"""Outbound HTTP from the emulators (store webhooks, supplier callbacks), signed and retried.

The first attempt may run inline (control endpoints answer after it, which keeps tests and the
demo deterministic); every retry is a durable runner job with the sender's backoff.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
import httpx

from app.config import get_settings
from app.db import utcnow
from app.redis import get_redis, key
from app.sandbox import runner
from app.sandbox.signing import supplier_signature
from app.webhooks.signing import shopify_hmac

log = logging.getLogger(__name__)

# Shopify retries a failed delivery 8 times with exponential backoff (over 4 h in production;
# compressed here so a demo or test sees the whole cycle in about four minutes).
SHOPIFY_BACKOFF = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
SUPPLIER_BACKOFF = [0.5, 1.5]  # 3 tries in all, as the supplier protocol states
TIMEOUTS = {"shopify": 5.0, "supplier": 10.0, "carrier": 10.0, "alerts": 10.0}
LOG_LENGTH = 1000


@dataclass
class Delivery:
    url: str
    body: str
    headers: dict[str, str]
    # "shopify" | "supplier" | "alerts" (the alert provider: the supplier protocol's signature, its own
    # secret) | "carrier" (signed by the carrier emulator, headers as given)
    signer: str
    label: str  # topic or callback type, for the delivery log
    attempt: int = 0
    backoff: list[float] = field(default_factory=list)


def _signed_headers(delivery: Delivery) -> dict[str, str]:
    settings = get_settings()
    headers = dict(delivery.headers)
    if delivery.signer == "carrier":
        return headers  # 17TRACK and AfterShip sign the body alone: the signature stays valid on retries
    body = delivery.body.encode()
    if delivery.signer == "shopify":
        headers["X-Shopify-Hmac-Sha256"] = shopify_hmac(body, settings.shopify_api_secret)
    else:
        # Re-signed at each attempt: a retry minutes later must still pass the 300 s window.
        stamp = str(int(time.time()))
        secret = settings.alert_provider_secret if delivery.signer == "alerts" else settings.supplier_api_secret
        headers["X-Timestamp"] = stamp
        headers["X-Signature"] = supplier_signature(secret, stamp, body)
    return headers


def _log_attempt(delivery: Delivery, status: int | None, error: str | None) -> None:
    entry = {
        "url": delivery.url,
        "label": delivery.label,
        "attempt": delivery.attempt + 1,
        "status": status,
        "error": error,
        "at": utcnow().isoformat(),
    }
    pipe = get_redis().pipeline(transaction=False)
    pipe.rpush(key("sandbox", "deliveries"), json.dumps(entry))
    pipe.ltrim(key("sandbox", "deliveries"), -LOG_LENGTH, -1)
    pipe.execute()


def _after_attempt(delivery: Delivery, status: int | None, error: str | None) -> bool:
    _log_attempt(delivery, status, error)
    if status is not None and 200 <= status < 300:
        return True
    if delivery.attempt < len(delivery.backoff):
        delay = delivery.backoff[delivery.attempt]
        retry = Delivery(**{**asdict(delivery), "attempt": delivery.attempt + 1})
        runner.schedule("http", asdict(retry), delay=delay)
    else:
        log.warning("sandbox.delivery_abandoned", extra={"url": delivery.url, "label": delivery.label})
    return False


def send_sync(delivery: Delivery) -> bool:
    """One attempt now; schedules the next one on failure. True when the receiver took it."""
    status, error = None, None
    try:
        with httpx.Client(timeout=TIMEOUTS[delivery.signer]) as client:
            response = client.post(delivery.url, content=delivery.body.encode(), headers=_signed_headers(delivery))
            status = response.status_code
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return _after_attempt(delivery, status, error)


async def send_async(delivery: Delivery, client: httpx.AsyncClient) -> bool:
    status, error = None, None
    try:
        response = await client.post(
            delivery.url, content=delivery.body.encode(), headers=_signed_headers(delivery),
            timeout=TIMEOUTS[delivery.signer],
        )
        status = response.status_code
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    # Redis bookkeeping off the event loop: the inline senders are async routes.
    return await anyio.to_thread.run_sync(_after_attempt, delivery, status, error)


def send_later(*deliveries: Delivery, delay: float = 0.0) -> None:
    """Deliver from the runner, one after the other in the order given (as one job, so a burst
    of related webhooks is not reordered by the runner's parallel workers)."""
    runner.schedule("http.sequence", {"deliveries": [asdict(d) for d in deliveries]}, delay=delay)


@runner.handler("http")
def _run(payload: dict[str, Any]) -> None:
    send_sync(Delivery(**payload))


@runner.handler("http.sequence")
def _run_sequence(payload: dict[str, Any]) -> None:
    for item in payload["deliveries"]:
        send_sync(Delivery(**item))


def recent_attempts(limit: int = 200) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in get_redis().lrange(key("sandbox", "deliveries"), -limit, -1)]
