"""Checks every inbound webhook route shares before anything is stored: body size, and JSON that
PostgreSQL's jsonb can hold. Used by the store, supplier and carrier webhook routes."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request


class Rejected(Exception):
    def __init__(self, status: int, outcome: str, detail: str) -> None:
        self.status, self.outcome, self.detail = status, outcome, detail


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, "too_large", f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "too_large", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# JSON allows what PostgreSQL's jsonb refuses: NUL characters and unpaired UTF-16 surrogates
# (json.loads joins valid pairs, so any surrogate left in a str is unpaired).
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def unstorable(payload: object) -> bool:
    stack = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and UNSTORABLE_CHARACTERS.search(item):
            return True
    return False


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes, *, object_required: bool = False) -> Any:
    """The body as JSON that jsonb can store, or Rejected(400, "bad_json")."""
    try:
        # Strict UTF-8 first: json.loads(bytes) would also take UTF-16/32 and encoded surrogates,
        # which the database then refuses. NaN and Infinity are Python extensions, not JSON.
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Rejected(400, "bad_json", f"body is not valid JSON: {error}") from None
    if object_required and not isinstance(payload, dict):
        raise Rejected(400, "bad_json", "body must be a JSON object")
    # Only an escape can spell a NUL or a lone surrogate in valid UTF-8 JSON: skip the walk otherwise.
    if "\\u" in text and unstorable(payload):
        raise Rejected(
            400, "bad_json", "body contains a NUL character or an unpaired surrogate, which cannot be stored"
        )
    return payload
