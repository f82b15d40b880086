"""POST /webhooks/alerts: an alert provider's signed webhook (Ethoca / Verifi CDRN alerts it relays).

Verified on the raw bytes with the timestamped HMAC of the generic supplier protocol (hex
HMAC-SHA256 over "<timestamp>." + body, X-Timestamp / X-Signature, 300 s window, so a captured
alert cannot be replayed later), checked, recorded in one transaction, then answered; the decision
is made by a task.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.alerts import service
from app.alerts.payload import AlertIn, BadAlert, parse
from app.config import get_settings
from app.db import get_sessionmaker
from app.metrics import WEBHOOKS
from app.suppliers.signing import verify

# The Shopify ingress's body reader and JSON guards, reused as they are.
from app.webhooks.intake import Rejected, parse_json, read_body, require_json

log = logging.getLogger(__name__)
router = APIRouter()


def _record(alert: AlertIn, body: bytes) -> service.Intake:
    with get_sessionmaker()() as session:
        result = service.record(session, alert, body)
        session.commit()  # the outbox row commits with the alert; the relay is woken after commit
        return result


@router.post("/webhooks/alerts", include_in_schema=False)
async def alert_webhook(request: Request) -> JSONResponse:
    settings = get_settings()
    label = "alert"
    try:
        require_json(request)
        body = await read_body(request, settings.webhook_max_bytes)
        problem = verify(body, request.headers.get("x-timestamp"), request.headers.get("x-signature"),
                         settings.alert_provider_secret)
        if problem:
            # Nothing is stored for an unauthenticated request: a counter and a log line only.
            log.warning("alert_webhook.bad_signature", extra={"reason": problem, "body_bytes": len(body)})
            raise Rejected(401, "bad_signature", problem)
        try:
            alert = parse(parse_json(body, object_required=True))
        except BadAlert as error:
            raise Rejected(400, "bad_payload", error.detail) from None
    except Rejected as rejected:
        WEBHOOKS.labels("alerts", label, rejected.outcome).inc()
        return JSONResponse({"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status)
    result = await run_in_threadpool(_record, alert, body)
    WEBHOOKS.labels("alerts", label, result.status).inc()
    # An unknown shop is answered 404 so the provider knows the alert reached no merchant.
    status_code = 404 if result.status == "unknown_shop" else 200
    return JSONResponse({"status": result.status, "alert_id": result.alert_id}, status_code=status_code)
