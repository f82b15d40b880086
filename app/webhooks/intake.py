"""Checks every inbound webhook route shares before anything is stored: body size, and JSON that
PostgreSQL's jsonb can hold. Used by the store, supplier and carrier webhook routes."""

from __future__ import annotations

import re

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
