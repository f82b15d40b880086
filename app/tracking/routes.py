"""POST /webhooks/carriers/{17track,aftership}: verify on the raw bytes, record, answer.

A bad or missing signature is answered 401 and nothing is stored; a malformed body 400.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.config import get_settings
from app.db import get_sessionmaker
from app.metrics import WEBHOOKS
from app.tracking.aggregators import PayloadError, aftership, seventeentrack
from app.tracking.ingest import PARSERS, IngestResult, record_delivery

# The Shopify ingress's body reader and JSON guards, reused as they are.
from app.webhooks.intake import Rejected, parse_json, read_body, require_json

log = logging.getLogger(__name__)
router = APIRouter()


def _verified(provider: str, request: Request, body: bytes) -> bool:
    settings = get_settings()
    if provider == "17track":
        header = request.headers.get(seventeentrack.SIGN_HEADER)
        return seventeentrack.verify_signature(body, header, settings.seventeentrack_webhook_key)
    header = request.headers.get(aftership.HMAC_HEADER)
    return aftership.verify_signature(body, header, settings.aftership_webhook_secret)


def _decode(provider: str, body: bytes):
    payload = parse_json(body, object_required=True)
    try:
        update = PARSERS[provider](payload)
    except PayloadError as error:
        raise Rejected(400, "bad_payload", str(error)) from None
    if len(update.number) > 64:
        raise Rejected(400, "bad_payload", "tracking number is longer than 64 characters")
    return payload, update


def _record(provider: str, update, payload: dict, body: bytes) -> IngestResult:
    with get_sessionmaker()() as session:
        result = record_delivery(session, provider, update, payload, body)
        session.commit()
        return result


async def _receive(provider: str, request: Request) -> JSONResponse:
    settings = get_settings()
    try:
        body = await read_body(request, settings.webhook_max_bytes)
        if not _verified(provider, request, body):
            # Nothing is stored for an unauthenticated request: a counter and a log line only.
            log.warning("carrier_webhook.bad_signature", extra={"provider": provider, "body_bytes": len(body)})
            raise Rejected(401, "bad_signature", "missing or invalid signature")
        require_json(request)
        payload, update = _decode(provider, body)
    except Rejected as rejected:
        WEBHOOKS.labels(provider, "tracking", rejected.outcome).inc()
        return JSONResponse({"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status)
    # The outbox row commits with the delivery; the after-commit hook wakes the relay.
    result = await run_in_threadpool(_record, provider, update, payload, body)
    WEBHOOKS.labels(provider, "tracking", result.status).inc()
    return JSONResponse({"status": result.status, "delivery_id": result.delivery_id})


@router.post("/webhooks/carriers/17track", include_in_schema=False)
async def seventeentrack_webhook(request: Request) -> JSONResponse:
    return await _receive("17track", request)


@router.post("/webhooks/carriers/aftership", include_in_schema=False)
async def aftership_webhook(request: Request) -> JSONResponse:
    return await _receive("aftership", request)
