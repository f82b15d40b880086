"""Carrier-tracking aggregators (17TRACK, AfterShip): what their clients and webhooks hand back.

Both protocols are turned into the same `TrackingUpdate`, so the code that applies scans to a
shipment does not care which aggregator followed the parcel.

`ScanEvent.location` and `ScanEvent.description` are the carrier's free text: they can name the
person who signed or the street, so they belong in the evidence event's `personal=` part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from app import http_clients
from app.tracking.statuses import Normalised


class AggregatorError(Exception):
    """The aggregator refused or failed a call; `status_code` is the HTTP status (0 if none)."""

    def __init__(self, message: str, *, status_code: int = 0, code: int | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code

    @property
    def retryable(self) -> bool:
        return self.status_code == 429 or self.status_code >= 500


class Unauthorised(AggregatorError):
    """Bad API key (or, for 17TRACK, a caller IP outside the account's allow-list)."""


class PayloadError(ValueError):
    """A webhook body or API answer that does not have the documented shape."""


class HttpClient:
    """Base of the aggregator clients: blocking httpx, base URL and key from the constructor.

    Pass `http` to share a connection pool (or a TestClient in tests); otherwise the client owns one.
    """

    default_base_url = ""

    def __init__(
        self, api_key: str, *, base_url: str | None = None, timeout: float = 10.0, http: httpx.Client | None = None
    ) -> None:
        self.api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._http = http or http_clients.client(timeout=timeout)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class ScanEvent:
    # Aware; a carrier-local time sent without an offset is read as UTC (time_raw keeps the original).
    time: datetime | None
    location: str | None
    description: str | None
    raw_status: str | None
    normalised: Normalised | None  # None when the provider gave this scan no status
    time_raw: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class TrackingUpdate:
    """One parcel as an aggregator reports it: latest status and its scans, oldest first."""

    provider: str
    number: str
    carrier: str | None
    latest: Normalised | None  # None only for a stop notice that carries no status
    events: tuple[ScanEvent, ...]
    event: str | None = None  # TRACKING_UPDATED / TRACKING_STOPPED / tracking_update; None from the API
    event_id: str | None = None  # AfterShip sends one; 17TRACK does not (dedupe on the body's hash)
    provider_id: str | None = None  # AfterShip tracking id
    tag: str | None = None  # our reference echoed back (17TRACK tag, AfterShip order_id)
    stopped: bool = False  # the aggregator stopped following the number

    @property
    def latest_event(self) -> ScanEvent | None:
        return self.events[-1] if self.events else None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def chronological(events: list[ScanEvent]) -> tuple[ScanEvent, ...]:
    """Oldest first (stable, so same-time scans keep the provider's order); undated scans first."""
    floor = datetime.min.replace(tzinfo=UTC)
    return tuple(sorted(events, key=lambda event: event.time or floor))


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
