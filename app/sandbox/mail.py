"""Sandbox mail catcher: an SMTP server that keeps the newest messages in Redis, and an inbox to read
them (/sandbox/mail/inbox: the list, each message's headers, its HTML in a sandboxed frame, its text).

One process hosts the SMTP port (the first to bind it); every web process can list the messages.
"""

from __future__ import annotations

import email
import json
import logging
import re
import secrets
import socket
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from app.config import get_settings
from app.db import utcnow
from app.redis import get_redis, key
from app.templating import page_templates

log = logging.getLogger(__name__)
router = APIRouter()

# Bounded storage: the newest KEEP messages, each its own key that also expires, each part cut at
# MAX_PART_CHARS (a sandbox left running for days stays a few megabytes, not an ever-growing dump).
KEEP = 500
PER_RECIPIENT = 200
TTL_SECONDS = 3 * 24 * 3600
MAX_PART_CHARS = 100_000
MAX_HEADER_CHARS = 2_000
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
_ID = re.compile(r"^[0-9a-f]{16}$")


def _legacy_key() -> str:
    # Where an earlier catcher kept every message as one ever-growing list of JSON blobs.
    return key("sandbox", "mail")


def _ids_key() -> str:
    return key("sandbox", "mail", "ids")


def _message_key(message_id: str) -> str:
    return key("sandbox", "mail", "m", message_id)


def _to_key(address: str) -> str:
    return key("sandbox", "mail", "to", address.strip().lower())


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _cut(value: str | None, limit: int) -> tuple[str | None, bool]:
    if value is None or len(value) <= limit:
        return value, False
    return value[:limit], True


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_type() != f"text/{subtype}":
        return None
    return body.get_content()


def parse_message(raw: bytes, *, mail_from: str, rcpt_tos: list[str]) -> dict[str, Any]:
    message: EmailMessage = email.message_from_bytes(raw, policy=default_policy)  # type: ignore[assignment]
    headers: dict[str, str] = {}
    for name, value in message.items():
        # Repeated headers (Received, ...) are joined so none is lost.
        joined = f"{headers[name]}, {value}" if name in headers else str(value)
        headers[name] = _cut(joined, MAX_HEADER_CHARS)[0] or ""
    attachments = [
        {"filename": part.get_filename(), "content_type": part.get_content_type(),
         "size": len(part.get_payload(decode=True) or b"")}
        for part in message.iter_attachments()
    ]
    text, text_cut = _cut(_part(message, "plain"), MAX_PART_CHARS)
    html, html_cut = _cut(_part(message, "html"), MAX_PART_CHARS)
    return {
        "message_id": message.get("Message-ID"),
        "from": str(message.get("From") or mail_from),
        "to": list(rcpt_tos),
        "header_to": [address for _, address in getaddresses(message.get_all("To", []))],
        "subject": str(message.get("Subject") or ""),
        "text": text,
        "html": html,
        "truncated": text_cut or html_cut,
        "size": len(raw),
        "headers": headers,
        "attachments": attachments,
        "envelope_from": mail_from,
        "received_at": utcnow().isoformat(),
    }


def store_message(stored: dict[str, Any]) -> str:
    """Keep one message (its own expiring key, listed newest last); drop the oldest beyond KEEP."""
    client = get_redis()
    stored = {**stored, "id": secrets.token_hex(8)}
    pipe = client.pipeline(transaction=True)
    pipe.set(_message_key(stored["id"]), json.dumps(stored), ex=TTL_SECONDS)
    pipe.rpush(_ids_key(), stored["id"])
    for address in {a.strip().lower() for a in stored["to"] + stored["header_to"]}:
        pipe.rpush(_to_key(address), stored["id"])
        pipe.ltrim(_to_key(address), -PER_RECIPIENT, -1)
        pipe.expire(_to_key(address), TTL_SECONDS)
    pipe.llen(_ids_key())
    count = pipe.execute()[-1]
    if count > KEEP:
        dropped = client.lpop(_ids_key(), count - KEEP) or []
        if dropped:
            client.delete(*[_message_key(_text(m)) for m in dropped])
    return stored["id"]


def messages(to: str | None = None) -> list[dict[str, Any]]:
    """Stored messages, oldest first (for one recipient when `to` is given)."""
    client = get_redis()
    ids = client.lrange(_to_key(to) if to else _ids_key(), 0, -1)
    if not ids:
        return []
    blobs = client.mget([_message_key(_text(m)) for m in ids])
    return [json.loads(blob) for blob in blobs if blob]  # expired or dropped ones are gone


def message(message_id: str) -> dict[str, Any] | None:
    if not _ID.match(message_id):
        return None
    blob = get_redis().get(_message_key(message_id))
    return json.loads(blob) if blob else None


class _Handler:
    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        try:
            raw = envelope.original_content or envelope.content
            store_message(parse_message(raw, mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos))
        except Exception:
            log.exception("sandbox.mail_store_failed")
            return "451 Requested action aborted: local error in processing"
        return "250 Message accepted for delivery"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_smtp_catcher(host: str | None = None, port: int | None = None) -> Controller | None:
    """Serve SMTP on settings.smtp_host:smtp_port in a thread; None if another process has it."""
    settings = get_settings()
    host, port = host or settings.smtp_host, port or settings.smtp_port
    if not _port_free(host, port):
        return None
    controller = Controller(
        _Handler(), hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES, ready_timeout=5,
        server_hostname="sandbox-mail.local",
    )
    get_redis().delete(_legacy_key())  # the unbounded list an earlier version left behind
    try:
        controller.start()
    except Exception as error:  # lost a race for the port to another process
        log.info("sandbox.mail_port_taken", extra={"port": port, "error": str(error)})
        return None
    return controller


@router.get("/mail")
def list_mail(to: str | None = None) -> dict[str, Any]:
    return {"messages": messages(to)}


@router.delete("/mail")
def clear_mail() -> dict[str, Any]:
    client = get_redis()
    doomed = [*client.scan_iter(match=key("sandbox", "mail", "*"), count=1000), _legacy_key()]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])
    return {"cleared": True}


# --- the inbox: what a developer reads in a browser during `make run` ---------------------------

# The message's own HTML is shown in a sandboxed frame: no script, no form, no top navigation.
_MESSAGE_CSP = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"
_INBOX_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:; form-action 'self'"


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return page_templates().TemplateResponse(
        request, name, {"locale": "en", **context}, status_code=status_code,
        headers={"Content-Security-Policy": _INBOX_CSP, "Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


@router.get("/mail/inbox", response_class=HTMLResponse)
def inbox(request: Request, to: str | None = None) -> HTMLResponse:
    listed = list(reversed(messages(to.strip() if to else None)))  # newest first
    return _page(request, "sandbox/mail_inbox.html", {"messages": listed, "to": to or "", "keep": KEEP})


@router.get("/mail/inbox/{message_id}", response_class=HTMLResponse)
def inbox_message(request: Request, message_id: str) -> HTMLResponse:
    found = message(message_id)
    if found is None:
        return _page(request, "sandbox/mail_message.html", {"message": None}, status_code=404)
    return _page(request, "sandbox/mail_message.html", {"message": found})


@router.get("/mail/inbox/{message_id}/html", response_class=HTMLResponse)
def inbox_message_html(message_id: str) -> HTMLResponse:
    found = message(message_id)
    if found is None or not found.get("html"):
        return HTMLResponse("no HTML part", status_code=404)
    return HTMLResponse(found["html"], headers={"Content-Security-Policy": _MESSAGE_CSP, "Cache-Control": "no-store"})


@router.get("/mail/inbox/{message_id}/text", response_class=PlainTextResponse)
def inbox_message_text(message_id: str) -> PlainTextResponse:
    found = message(message_id)
    if found is None or found.get("text") is None:
        return PlainTextResponse("no text part", status_code=404)
    return PlainTextResponse(found["text"], headers={"Cache-Control": "no-store"})
