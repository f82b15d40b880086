"""POST /webhooks/mail/mailgun: inbound e-mail forwarded by a Mailgun route (see inbound.py).

A bad or missing signature is answered 401 and nothing is stored; a body that is not a parsed
message 400 (Mailgun stops retrying on 406 only, so a real post that failed here is retried).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest

from app.config import get_settings
from app.db import get_sessionmaker
from app.insights import inbound
from app.metrics import WEBHOOKS
from app.webhooks.intake import Rejected, check_text, read_body

log = logging.getLogger(__name__)
router = APIRouter()


async def _form(request: Request, body: bytes) -> dict[str, object]:
    """The form from a body already read (and size-checked) once; attachments are not kept."""
    async def replay() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await StarletteRequest(request.scope, replay).form(max_files=20, max_fields=500)
    except Exception as error:  # malformed multipart or urlencoded data
        raise inbound.BadMail(400, "bad_mail", f"not a form: {error}") from None
    return {key: value for key, value in form.items() if not isinstance(value, UploadFile)}


def _record(fields: dict[str, str]) -> tuple[int | None, str]:
    with get_sessionmaker()() as session:
        result = inbound.record_delivery(session, fields)
        session.commit()
        return result


@router.post("/webhooks/mail/mailgun", include_in_schema=False)
async def mailgun_inbound(request: Request) -> JSONResponse:
    settings = get_settings()
    try:
        body = await read_body(request, settings.webhook_max_bytes)
        form = await _form(request, body)
        problem = inbound.verify({k: str(v) for k, v in form.items()}, settings.mailgun_signing_key)
        if problem:
            log.warning("inbound_mail.bad_signature", extra={"problem": problem, "body_bytes": len(body)})
            raise inbound.BadMail(401, "bad_signature", problem)
        # The form is this route's one parse (its signature is one of its fields); its text is
        # checked once the signature holds, as the input guard checks every other form.
        for name, value in form.items():
            check_text(f"{name}{value}", "a form field")
        fields = inbound.parse(form)
    except (Rejected, inbound.BadMail) as rejected:
        WEBHOOKS.labels("mailgun", "inbound_mail", rejected.outcome).inc()
        return JSONResponse({"error": rejected.outcome, "detail": rejected.detail}, status_code=rejected.status)
    delivery_id, status = await run_in_threadpool(_record, fields)
    WEBHOOKS.labels("mailgun", "inbound_mail", status).inc()
    return JSONResponse({"status": status, "delivery_id": delivery_id})
