"""Sandbox mail catcher: an SMTP server that keeps every message in Redis, and a page to read them.

One process hosts the SMTP port (the first to bind it); every web process can list the messages.
"""

from __future__ import annotations

import email
import json
import logging
import socket
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import APIRouter

from app.config import get_settings
from app.db import utcnow
from app.redis import get_redis, key

log = logging.getLogger(__name__)
router = APIRouter()

KEEP = 2000
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def _all_key() -> str:
    return key("sandbox", "mail")


def _to_key(address: str) -> str:
    return key("sandbox", "mail", "to", address.strip().lower())


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
        headers[name] = f"{headers[name]}, {value}" if name in headers else str(value)
    attachments = [
        {"filename": part.get_filename(), "content_type": part.get_content_type(),
         "size": len(part.get_payload(decode=True) or b"")}
        for part in message.iter_attachments()
    ]
    return {
        "message_id": message.get("Message-ID"),
        "from": str(message.get("From") or mail_from),
        "to": list(rcpt_tos),
        "header_to": [address for _, address in getaddresses(message.get_all("To", []))],
        "subject": str(message.get("Subject") or ""),
        "text": _part(message, "plain"),
        "html": _part(message, "html"),
        "headers": headers,
        "attachments": attachments,
        "envelope_from": mail_from,
        "received_at": utcnow().isoformat(),
    }


def store_message(stored: dict[str, Any]) -> None:
    blob = json.dumps(stored)
    pipe = get_redis().pipeline(transaction=True)
    pipe.rpush(_all_key(), blob)
    pipe.ltrim(_all_key(), -KEEP, -1)
    for address in {a.strip().lower() for a in stored["to"] + stored["header_to"]}:
        pipe.rpush(_to_key(address), blob)
        pipe.ltrim(_to_key(address), -KEEP, -1)
        pipe.expire(_to_key(address), 7 * 24 * 3600)
    pipe.execute()


def messages(to: str | None = None) -> list[dict[str, Any]]:
    raw = get_redis().lrange(_to_key(to) if to else _all_key(), 0, -1)
    return [json.loads(item) for item in raw]


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
    doomed = list(client.scan_iter(match=key("sandbox", "mail", "to", "*"), count=1000)) + [_all_key()]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])
    return {"cleared": True}
