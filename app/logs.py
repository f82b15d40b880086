"""Logging: JSON lines with the request id (or task id) of whatever is being done."""

from __future__ import annotations

import contextvars
import logging
import sys
import traceback
import uuid

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_QUIET_LOGGERS = ("httpx", "httpcore", "mail.log")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_database_error(error: BaseException) -> bool:
    from psycopg import Error as PsycopgError
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(error, SQLAlchemyError | PsycopgError)


def _class_name(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


class _WithholdDatabaseErrorText(logging.Filter):
    """A database error's text quotes the statement's parameters (names, addresses, messages):
    the record keeps the error classes and where they were raised, never the text. Applies to
    every record, whoever logs it (our code, uvicorn's "Exception in ASGI application", Celery's
    task failures)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        chain = _chain(error) if error is not None else []
        if not any(_is_database_error(link) for link in chain):
            return True
        message = record.getMessage()
        for link in chain:
            for spelled in {str(link), repr(link)}:
                if spelled:
                    message = message.replace(spelled, f"<{type(link).__name__}: text withheld>")
        frames = "".join(traceback.format_tb(error.__traceback__)) if error is not None else ""
        record.msg, record.args = message, None
        record.error_class = _class_name(chain[0])
        record.exc_info = None
        record.exc_text = (
            "Traceback (database error text withheld):\n" + frames
            + " <- ".join(_class_name(link) for link in chain)
        )
        return True


def configure(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.addFilter(_WithholdDatabaseErrorText())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    # uvicorn's own handler would print a crash's traceback, database error text included: its
    # records go through the one handler above instead.
    logging.getLogger("uvicorn").handlers[:] = []
    logging.getLogger("uvicorn").propagate = True
    # Per-request chatter from libraries: httpx logs every URL it calls (query strings included),
    # aiosmtpd every SMTP command of the sandbox mail catcher.
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def _valid_request_id(value: bytes) -> str | None:
    # A caller's id is echoed in logs and headers: accept only short, printable ASCII.
    if 0 < len(value) <= 128 and all(0x21 <= byte <= 0x7E for byte in value):
        return value.decode("ascii")
    return None


class RequestIdMiddleware:
    """Tags every HTTP request with an id (the caller's X-Request-Id or a new one) for logs and the answer.

    A pure ASGI middleware: BaseHTTPMiddleware runs each request through an extra task and stream,
    which costs measurable throughput on the webhook path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = _valid_request_id(value)
                break
        rid = rid or uuid.uuid4().hex
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
