"""The one input guard: outside text is refused (4xx with a reason) before it can reach PostgreSQL
as something it cannot store, or Python as something it cannot parse.

Refused everywhere: NUL characters (text columns and jsonb cannot hold them), invalid UTF-8,
unpaired UTF-16 surrogates (psycopg cannot encode them), and in JSON non-finite numbers (1e999,
NaN, Infinity: jsonb refuses them) and nesting deeper than MAX_DEPTH (RecursionError otherwise).

Two places apply it:
- `InputGuardMiddleware` (app/main.py), for every request: the path and query string, and the
  body of an unsigned request (forms, multipart text fields, JSON). A route added by anyone is
  covered without an edit.
- `parse_json` in the signed webhook routes (SIGNED_PREFIXES), which the middleware leaves alone:
  their body is read and verified first, then parsed once, here. Nothing is parsed before the
  signature is checked.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DEPTH = 64
# Bodies are checked up to this size; a larger one is handed on unchecked and left to the route's
# own limit (uploads: app/resolutions/uploads.py, webhooks: webhook_max_bytes), which refuses it.
MAX_CHECKED_BODY = 32 * 1024 * 1024
# Routes whose body is authenticated by a signature over its raw bytes: the route verifies, then
# parses with parse_json. The middleware still checks their path and query string.
SIGNED_PREFIXES = ("/webhooks/",)

# What PostgreSQL cannot store in text or jsonb. json.loads joins valid surrogate pairs, so any
# surrogate left in a str is unpaired.
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_REASON = "contains a NUL character or an unpaired surrogate, which cannot be stored"


class Rejected(Exception):
    def __init__(self, status: int, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.outcome, self.detail = status, outcome, detail


def check_text(value: str, where: str) -> str:
    if UNSTORABLE_CHARACTERS.search(value):
        raise Rejected(400, "bad_text", f"{where} {UNSTORABLE_REASON}")
    return value


def decode_text(raw: bytes, where: str) -> str:
    """Strict UTF-8 (no replacement characters slipped in for bytes the sender meant otherwise),
    storable."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "bad_encoding", f"{where} is not valid UTF-8") from None
    return check_text(text, where)


# --- JSON -------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {literal[:32]} is out of range")
    return value


def _problem_in(payload: object, *, depth_possible: bool, text_possible: bool) -> str | None:
    """Walks the parsed value once, without recursion, for what the parse itself lets through."""
    stack: list[tuple[object, int]] = [(payload, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH and depth_possible:
                return f"body is nested deeper than {MAX_DEPTH} levels"
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, dict) and text_possible:
                stack.extend((key, depth) for key in item)
        elif text_possible and isinstance(item, str) and UNSTORABLE_CHARACTERS.search(item):
            return "body " + UNSTORABLE_REASON
    return None


def parse_json(body: bytes | str, *, object_required: bool = False, what: str = "body") -> Any:
    """The body as JSON that jsonb can store, or Rejected(400, "bad_json"). Parsed exactly once."""
    try:
        # Strict UTF-8 first: json.loads(bytes) would also take UTF-16/32 and encoded surrogates,
        # which the database then refuses. NaN and Infinity are Python extensions, not JSON; a
        # number too large for a double (1e999) would become one.
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        payload = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise Rejected(400, "bad_json", f"{what} is not valid UTF-8") from None
    except RecursionError:
        raise Rejected(400, "bad_json", f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, a refused constant or number, an int too long
        raise Rejected(400, "bad_json", f"{what} is not valid JSON: {error}") from None
    if object_required and not isinstance(payload, dict):
        raise Rejected(400, "bad_json", f"{what} must be a JSON object")
    # The walk is skipped when the text shows it cannot find anything: only an escape spells a NUL
    # or a lone surrogate in valid UTF-8 JSON, and a depth over MAX_DEPTH needs that many brackets.
    depth_possible = text.count("{") + text.count("[") > MAX_DEPTH
    text_possible = "\\u" in text
    if depth_possible or text_possible:
        problem = _problem_in(payload, depth_possible=depth_possible, text_possible=text_possible)
        if problem:
            raise Rejected(400, "bad_json", problem.replace("body", what, 1))
    return payload


# A body none of whose bytes match this cannot hold anything parse_json refuses beyond invalid
# UTF-8 (checked separately): no escape, constant, exponent or long number. Most do not match, so
# the unsigned JSON routes are parsed once, by FastAPI; a body that matches is parsed here first.
_JSON_SUSPECT = re.compile(rb"\\u|NaN|Infinity|\d[eE]|\d{400}")


def _json_suspect(body: bytes) -> bool:
    return body.count(b"{") + body.count(b"[") > MAX_DEPTH or _JSON_SUSPECT.search(body) is not None


# --- the middleware ---------------------------------------------------------------------------


def _check_urlencoded(raw: bytes, where: str) -> None:
    # Separators are ASCII, so the whole decoded string is valid UTF-8 exactly when every key and
    # value is: one C-speed decode instead of a parse.
    decode_text(unquote_to_bytes(raw.replace(b"+", b" ")), where)


def _boundary(content_type: str) -> bytes | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "boundary" and value:
            return value.strip().strip('"').encode("latin-1", "replace")
    return None


def _check_multipart(body: bytes, content_type: str) -> None:
    """Text fields (parts without a filename) and every part's headers; files are bytes and are
    the route's to check. Split on the boundary, not parsed: the route parses once."""
    boundary = _boundary(content_type)
    if not boundary:
        return  # the route's parser refuses it with its own 400
    for part in body.split(b"--" + boundary)[1:]:
        headers, _, content = part.partition(b"\r\n\r\n")
        decode_text(headers, "a form field's name")
        if b"filename=" not in headers:
            decode_text(content.removesuffix(b"\r\n"), "a form field")


def _check_body(body: bytes, content_type: str) -> None:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        _check_urlencoded(body, "the form")
    elif media == "multipart/form-data":
        _check_multipart(body, content_type)
    elif media == "application/json" or media.endswith("+json") or (not media and body[:1] in b"{["):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "bad_json", "body is not valid UTF-8") from None
        if _json_suspect(body):
            parse_json(body)
    elif media.startswith("text/"):
        decode_text(body, "body")


def _check_target(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    decode_text(unquote_to_bytes(raw_path), "the path")
    if scope.get("query_string"):
        _check_urlencoded(scope["query_string"], "the query string")


class InputGuardMiddleware:
    """Pure ASGI (as app/logs.py's): buffers a checked body once and replays it to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_target(scope)
        except Rejected as rejected:
            await _refuse(send, rejected)
            return
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
                break
        signed = scope["path"].startswith(SIGNED_PREFIXES)
        if signed or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        messages, body, complete = await _buffer(receive)
        if complete:
            try:
                _check_body(body, content_type)
            except Rejected as rejected:
                await _refuse(send, rejected)
                return
        await self.app(scope, _replay(messages, receive), send)


async def _buffer(receive: Receive) -> tuple[list[Message], bytes, bool]:
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, b"", False  # disconnected: the app sees it as it would have
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages), True
        if size > MAX_CHECKED_BODY:
            return messages, b"", False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(send: Send, rejected: Rejected) -> None:
    body = json.dumps({"error": rejected.outcome, "detail": rejected.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": rejected.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
