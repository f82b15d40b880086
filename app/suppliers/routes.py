"""Supplier webhooks: verify on the raw bytes, record in one transaction, answer; a task applies.

POST /webhooks/suppliers/generic (protocol A) and POST /webhooks/suppliers/cj (CJ: header `sign`,
keyed by the account's openId; CJ wants a 200 within 3 s, so nothing is applied here).
"""

from __future__ import annotations

import logging
import re

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
from app.webhooks.intake import Rejected, parse_json, read_body, require_json

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
        require_json(request)
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


# Where the body names its account, read without parsing (nothing is parsed before the signature
# is checked): it only orders the keys tried, it decides nothing.
_OPEN_ID = re.compile(rb'"openId"\s*:\s*"?([0-9A-Za-z_-]{1,64})')


def _keys_to_try(body: bytes, known: set[str]) -> list[str]:
    """Every account we hold, the one the body seems to name first: a forged or unreadable body
    costs one HMAC per account, never a parse. An account we do not hold is never a key."""
    found = _OPEN_ID.search(body[:4096])
    claimed = found.group(1).decode() if found else None
    return sorted(known, key=lambda key: (key != claimed, key))


def _signing_account(body: bytes, sign: str | None, known: set[str]) -> str:
    for key in _keys_to_try(body, known):
        if verify_webhook(body, sign, key):
            return key
    reason = "unknown CJ account" if not known else "signature does not match"
    log.warning("supplier_callback.bad_signature", extra={"reason": reason, "body_bytes": len(body)})
    raise Rejected(401, "bad_signature", reason)


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
        account = _signing_account(body, request.headers.get(SIGN_HEADER), known)
        require_json(request)
        payload = parse_json(body, object_required=True)
        named = payload.get("openId")
        if named is not None and str(named) != account:
            # Signed by one of our accounts while naming another: the body is not that account's.
            log.warning("supplier_callback.bad_signature", extra={"reason": "account mismatch"})
            raise Rejected(401, "bad_signature", "the body names another CJ account than its signature's")
        try:
            update = to_update(payload)
        except CJWebhookError as error:
            raise Rejected(400, "bad_payload", str(error)) from None
    except Rejected as rejected:
        WEBHOOKS.labels("supplier", "cj", rejected.outcome).inc()
        return JSONResponse({"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status)
    result = await run_in_threadpool(_record_cj, update, payload, body)
    WEBHOOKS.labels("supplier", "cj", result.status).inc()
    return JSONResponse({"status": result.status, "delivery_id": result.delivery_id})
