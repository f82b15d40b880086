"""Supplier webhooks: verify on the raw bytes, record in one transaction, answer; a task applies.

POST /webhooks/suppliers/generic (protocol A) and POST /webhooks/suppliers/cj (CJ: header `sign`,
keyed by the account's openId; CJ wants a 200 within 3 s, so nothing is applied here).
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select

from app.config import get_settings
from app.db import get_sessionmaker
from app.metrics import WEBHOOKS
from app.suppliers import cj_stock
from app.suppliers.adapters.base import WebhookUpdate
from app.suppliers.adapters.cj import to_update
from app.suppliers.callbacks import (
    EVENT_TYPES,
    BadCallback,
    CallbackResult,
    record_callback,
    record_cj,
    validate,
)
from app.suppliers.models import Supplier
from app.suppliers.protocols.cj_webhooks import SIGN_HEADER, CJWebhookError, verify_webhook
from app.suppliers.signing import verify

# The Shopify ingress's body reader and JSON guards, reused as they are: same limits, same
# refusal of what jsonb cannot store.
from app.webhooks.intake import Rejected, parse_json, read_body

log = logging.getLogger(__name__)
router = APIRouter()


def _label(kind: object) -> str:
    # Metric labels must be a closed set whatever a sender puts in its body.
    return kind if kind in EVENT_TYPES else "other"  # type: ignore[return-value]


def _decode(body: bytes) -> dict:
    payload = parse_json(body)
    try:
        return validate(payload)
    except BadCallback as error:
        raise Rejected(400, "bad_payload", error.message) from None


def _record(payload: dict, body: bytes) -> CallbackResult:
    with get_sessionmaker()() as session:
        result = record_callback(session, payload, body)
        # The outbox row commits with the delivery; the relay is woken by the after-commit hook.
        session.commit()
        return result


@router.post("/webhooks/suppliers/generic", include_in_schema=False)
async def generic_supplier_callback(request: Request) -> JSONResponse:
    settings = get_settings()
    label = "unknown"
    try:
        body = await read_body(request, settings.webhook_max_bytes)
        problem = verify(
            body,
            request.headers.get("x-timestamp"),
            request.headers.get("x-signature"),
            settings.supplier_api_secret,
        )
        if problem:
            # Nothing is stored for an unauthenticated request: a counter and a log line only.
            log.warning("supplier_callback.bad_signature", extra={"reason": problem, "body_bytes": len(body)})
            raise Rejected(401, "bad_signature", problem)
        payload = _decode(body)
        label = _label(payload["type"])
    except Rejected as rejected:
        WEBHOOKS.labels("supplier", label, rejected.outcome).inc()
        return JSONResponse(
            {"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status
        )
    result = await run_in_threadpool(_record, payload, body)
    WEBHOOKS.labels("supplier", label, result.status).inc()
    return JSONResponse({"status": result.status, "delivery_id": result.delivery_id})


def _known_open_ids() -> set[str]:
    """The CJ accounts we hold: configured, or set on a CJ supplier. Only these keys are tried."""
    with get_sessionmaker()() as session:
        own = session.scalars(select(Supplier.settings["open_id"].astext).where(
            Supplier.protocol == "cj", Supplier.settings["open_id"].astext.is_not(None)))
        found = {str(value) for value in own if value}
    configured = get_settings().cj_open_id
    return found | ({str(configured)} if configured else set())


def _claimed_open_id(body: bytes) -> str | None:
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    value = envelope.get("openId") if isinstance(envelope, dict) else None
    return str(value) if value is not None else None


def _record_cj(update: WebhookUpdate, payload: dict, body: bytes) -> CallbackResult:
    with get_sessionmaker()() as session:
        # Stock news names no order: it goes to every shop buying from the signing account.
        result = (cj_stock.record if cj_stock.is_stock(update) else record_cj)(session, update, payload, body)
        session.commit()
        return result


@router.post("/webhooks/suppliers/cj", include_in_schema=False)
async def cj_supplier_webhook(request: Request) -> JSONResponse:
    settings = get_settings()
    try:
        body = await read_body(request, settings.webhook_max_bytes)
        known = await run_in_threadpool(_known_open_ids)
        claimed = _claimed_open_id(body)
        # The body names its account, whose key alone is tried; a body naming none (unreadable)
        # may match any account we hold. An account we do not hold is never a key.
        keys = [claimed] if claimed in known else (sorted(known) if claimed is None else [])
        sign = request.headers.get(SIGN_HEADER)
        if not any(verify_webhook(body, sign, key) for key in keys):
            reason = "unknown CJ account" if not keys else "signature does not match"
            log.warning("supplier_callback.bad_signature", extra={"reason": reason, "body_bytes": len(body)})
            raise Rejected(401, "bad_signature", reason)
        payload = parse_json(body)
        try:
            update = to_update(body)
        except CJWebhookError as error:
            raise Rejected(400, "bad_payload", str(error)) from None
        except (ValueError, RecursionError) as error:  # JSON nested in a field (tracking events)
            raise Rejected(400, "bad_json", f"body is not valid JSON: {error}") from None
    except Rejected as rejected:
        WEBHOOKS.labels("supplier", "cj", rejected.outcome).inc()
        return JSONResponse({"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status)
    result = await run_in_threadpool(_record_cj, update, payload, body)
    WEBHOOKS.labels("supplier", "cj", result.status).inc()
    return JSONResponse({"status": result.status, "delivery_id": result.delivery_id})
