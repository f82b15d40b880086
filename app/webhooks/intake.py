"""What every inbound webhook route shares before anything is stored: the body read within its
size limit, the content type, then (after the signature) one parse by the input guard
(app/input_guard.py). Used by the store, supplier, carrier and inbound-mail routes."""

from __future__ import annotations

from fastapi import Request

from app.input_guard import Rejected, check_text, parse_json

__all__ = ["Rejected", "check_text", "parse_json", "read_body", "require_json"]


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


def require_json(request: Request) -> None:
    """415 unless the sender says it sends JSON (checked before the body is read)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Rejected(415, "bad_content_type", "Content-Type must be application/json")
