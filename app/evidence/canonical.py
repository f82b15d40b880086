"""Canonical content and digests of evidence events (RFC 8785 JSON, SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64
# How events are hashed. Each event stores the version it was hashed with (evidence_events.
# hash_version), so the hashing can evolve while older events still verify with their own rules.
# Version 1: RFC 8785 JSON of the content below, SHA-256; links as in link_hash.
HASH_VERSION = 1
HASH_VERSIONS = frozenset({1})


class UnknownHashVersion(ValueError):
    pass


def _check_version(version: int) -> None:
    if version not in HASH_VERSIONS:
        raise UnknownHashVersion(f"hash version {version} is not one this build knows ({sorted(HASH_VERSIONS)})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def normalise(value: Any) -> Any:
    """What JSONB will give back: the form we hash must be the form we store."""
    return _jsonable(value)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("evidence timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(_jsonable(value))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def personal_digest(personal: dict[str, Any], salt: bytes) -> str:
    # Salted, because an unsalted hash of an e-mail address is still personal data.
    return sha256_hex(salt + canonical(personal))


def content_digest(
    *,
    chain: str,
    kind: str,
    source: str,
    order_id: int | None,
    occurred_at: datetime,
    data: dict[str, Any],
    personal_digest: str | None,
    version: int = HASH_VERSION,
) -> str:
    _check_version(version)
    return sha256_hex(
        canonical(
            {
                "chain": chain,
                "kind": kind,
                "source": source,
                "order_id": order_id,
                "occurred_at": iso(occurred_at),
                "data": data,
                "personal_digest": personal_digest,
            }
        )
    )


def epoch_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def link_hash(*, prev_hash: str, seq: int, recorded_at: datetime, digest: str, version: int = HASH_VERSION) -> str:
    """Must match evidence_chain() in the migrations, character for character."""
    _check_version(version)
    return sha256_hex(f"{prev_hash}|{seq}|{epoch_micros(recorded_at)}|{digest}".encode())
