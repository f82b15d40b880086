"""POST /webhooks/shopify: verify on the raw bytes, record in one transaction, then answer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import aio
from app.config import get_settings
from app.metrics import WEBHOOKS
from app.shops.domains import is_shop_domain
from app.webhooks import topics
from app.webhooks.intake import Rejected, parse_json, read_body, require_json
from app.webhooks.service import InboundDelivery, IngestResult
from app.webhooks.signing import verify_shopify_hmac

log = logging.getLogger(__name__)
router = APIRouter()


def _topic_label(topic: str | None) -> str:
    return topic if topic in topics.METRIC_LABELS else "other"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # Converted here: a valid but extreme offset (year 1, +05:00) overflows later otherwise.
        return moment.astimezone(UTC) if moment.tzinfo else None
    except (ValueError, OverflowError):
        return None


def _check_payload(request: Request, body: bytes) -> tuple[str, str, str]:
    headers = request.headers
    topic = headers.get("x-shopify-topic", "").strip()
    domain = headers.get("x-shopify-shop-domain", "").strip().lower()
    event_id = (headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id") or "").strip()
    missing = [
        name
        for name, value in (
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Shop-Domain", domain),
            ("X-Shopify-Event-Id", event_id),
        )
        if not value
    ]
    if missing:
        raise Rejected(400, "missing_header", "missing header: " + ", ".join(missing))
    if not is_shop_domain(domain):
        raise Rejected(400, "bad_domain", "X-Shopify-Shop-Domain must be a *.myshopify.com domain")
    if len(topic) > 128 or len(event_id) > 255 or len(headers.get("x-shopify-webhook-id", "")) > 255:
        raise Rejected(400, "bad_header", "X-Shopify-Topic, -Event-Id or -Webhook-Id is too long")
    if len(headers.get("x-shopify-api-version", "")) > 32:
        raise Rejected(400, "bad_header", "X-Shopify-API-Version is too long")
    require_json(request)
    parse_json(body, object_required=True)
    return topic, domain, event_id


async def _record(delivery: InboundDelivery) -> IngestResult:
    # On the event loop (app/aio.py), in autocommit: the ledger's per-shop lock is released as soon
    # as the statement commits, with no extra COMMIT round trip while it is held (the lock
    # serialises a shop's appends, so its hold time bounds one shop's ingest rate).
    loop_clients = await aio.clients()
    result = await loop_clients.ingest.record(delivery)
    if result.status == "queued":
        loop_clients.relay_waker.nudge()
    return result


@router.post("/webhooks/shopify", include_in_schema=False)
async def shopify_webhook(request: Request) -> JSONResponse:
    settings = get_settings()
    topic_label = _topic_label(request.headers.get("x-shopify-topic", "").strip())
    try:
        body = await read_body(request, settings.webhook_max_bytes)
        if not verify_shopify_hmac(body, request.headers.get("x-shopify-hmac-sha256"), settings.shopify_api_secret):
            # Nothing is stored for an unauthenticated request: a counter and a log line only.
            log.warning(
                "webhook.bad_signature",
                extra={"shop_domain": request.headers.get("x-shopify-shop-domain"), "topic": topic_label},
            )
            raise Rejected(401, "bad_signature", "missing or invalid X-Shopify-Hmac-Sha256")
        topic, domain, event_id = _check_payload(request, body)
    except Rejected as rejected:
        WEBHOOKS.labels("shopify", topic_label, rejected.outcome).inc()
        return JSONResponse({"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status)

    result = await _record(
        InboundDelivery(
            shop_domain=domain,
            topic=topic,
            event_id=event_id,
            webhook_id=request.headers.get("x-shopify-webhook-id"),
            api_version=request.headers.get("x-shopify-api-version"),
            triggered_at=_parse_time(request.headers.get("x-shopify-triggered-at")),
            body=body,
        )
    )
    WEBHOOKS.labels("shopify", _topic_label(topic), result.status).inc()
    return JSONResponse({"status": result.status, "delivery_id": result.delivery_id})
