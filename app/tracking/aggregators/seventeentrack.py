"""17TRACK tracking API v2.2: request client, answer envelope, webhook signature and payload.

Every call is `POST {base}/{action}` with a JSON body and the header `17token: <api key>`; numbers
go in batches of at most 40. The answer is `{code, data: {accepted: [...], rejected: [{number,
error: {code, message}}], errors?: [...]}}`. Webhooks carry the header `sign` = lower-case hex
SHA-256 (a plain hash, not an HMAC) of the raw body, a "/" and the account's security key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.tracking.aggregators import (
    AggregatorError,
    HttpClient,
    PayloadError,
    ScanEvent,
    TrackingUpdate,
    Unauthorised,
    batches,
    chronological,
    parse_time,
    text_or_none,
)
from app.tracking.statuses import Normalised, Provider, from_17track, from_17track_stage

BASE_URL = "https://api.17track.net/track/v2.2"
TOKEN_HEADER = "17token"  # noqa: S105 - a header name, not a secret
SIGN_HEADER = "sign"
MAX_BATCH = 40
PROVIDER = Provider.SEVENTEENTRACK.value
EVENTS = ("TRACKING_UPDATED", "TRACKING_STOPPED")

# Error codes met in answers (per-number `rejected[].error.code` or request-level `errors[]`).
INVALID_KEY = -18010002
INVALID_FORMAT = -18010012
TOO_MANY_NUMBERS = -18010014
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
# Auto-detection found no carrier for the number (it is not a number 17TRACK knows).
CARRIER_NOT_DETECTED = -18019903
RETRACK_NOT_STOPPED = -18019904
QUOTA_EXHAUSTED = -18019908


def sign(body: bytes, security_key: str) -> str:
    return hashlib.sha256(body + b"/" + security_key.encode()).hexdigest()


def verify_signature(body: bytes, header: str | None, security_key: str) -> bool:
    if not header or not security_key:
        return False
    return hmac.compare_digest(sign(body, security_key).encode(), header.strip().lower().encode())


@dataclass(frozen=True)
class RegisterItem:
    number: str
    carrier: int | None = None  # 17TRACK carrier key; None lets 17TRACK detect it
    tag: str | None = None  # our own reference, echoed back in webhooks
    param: str | None = None  # extra carrier parameter (postcode, phone digits) some carriers need
    order_no: str | None = None

    def as_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"number": self.number}
        if self.carrier is not None:
            item["carrier"] = self.carrier
        else:
            item["auto_detection"] = True
        for name in ("tag", "param", "order_no"):
            if getattr(self, name) is not None:
                item[name] = getattr(self, name)
        return item


Ref = str | RegisterItem


def _ref_json(ref: Ref) -> dict[str, Any]:
    if isinstance(ref, str):
        return {"number": ref}
    item: dict[str, Any] = {"number": ref.number}
    if ref.carrier is not None:
        item["carrier"] = ref.carrier
    return item


@dataclass(frozen=True)
class Rejection:
    number: str | None
    code: int | None
    message: str


@dataclass(frozen=True)
class Envelope:
    code: int
    accepted: tuple[Mapping[str, Any], ...] = ()
    rejected: tuple[Rejection, ...] = ()
    errors: tuple[Rejection, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def accepted_numbers(self) -> list[str]:
        return [str(item.get("number")) for item in self.accepted]

    def rejected_with(self, code: int) -> list[str]:
        return [r.number for r in self.rejected if r.code == code and r.number is not None]

    def merge(self, other: Envelope) -> Envelope:
        return Envelope(
            self.code or other.code, self.accepted + other.accepted, self.rejected + other.rejected,
            self.errors + other.errors, {**self.data, **other.data},
        )


def _rejection(item: Any) -> Rejection:
    if not isinstance(item, Mapping):
        raise PayloadError("rejected entries must be objects")
    error = item.get("error") if isinstance(item.get("error"), Mapping) else item
    code = error.get("code")
    return Rejection(
        text_or_none(item.get("number")),
        int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None,
        str(error.get("message") or ""),
    )


def parse_envelope(payload: Any) -> Envelope:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("code"), int):
        raise PayloadError("17TRACK answer without an integer code")
    data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
    accepted, rejected, errors = ([] if data.get(n) is None else data[n] for n in ("accepted", "rejected", "errors"))
    if not all(isinstance(x, list) for x in (accepted, rejected, errors)):
        raise PayloadError("17TRACK accepted/rejected/errors must be lists")
    if not all(isinstance(item, Mapping) for item in accepted):
        raise PayloadError("17TRACK accepted entries must be objects")
    return Envelope(
        payload["code"], tuple(accepted), tuple(_rejection(r) for r in rejected),
        tuple(_rejection(e) for e in errors), data,
    )


def _event_time_raw(event: Mapping[str, Any]) -> str | None:
    raw = event.get("time_raw")
    if isinstance(raw, Mapping):
        joined = " ".join(str(raw[k]) for k in ("date", "time", "timezone") if raw.get(k))
        raw = joined or None
    return text_or_none(event.get("time_iso") or event.get("time_utc") or raw)


def _event_status(event: Mapping[str, Any]) -> Normalised | None:
    sub = text_or_none(event.get("sub_status"))
    if sub:
        return from_17track(sub.split("_", 1)[0], sub)
    stage = text_or_none(event.get("stage"))
    return from_17track_stage(stage) if stage else None


def _location(event: Mapping[str, Any]) -> str | None:
    location = text_or_none(event.get("location"))
    address = event.get("address")
    if location or not isinstance(address, Mapping):
        return location
    parts = [text_or_none(address.get(k)) for k in ("street", "city", "state", "postal_code", "country")]
    return ", ".join(p for p in parts if p) or None


def parse_scan(event: Mapping[str, Any]) -> ScanEvent:
    normalised = _event_status(event)
    return ScanEvent(
        time=parse_time(event.get("time_iso")) or parse_time(event.get("time_utc")),
        location=_location(event),
        description=text_or_none(event.get("description")),
        raw_status=text_or_none(event.get("sub_status") or event.get("stage")),
        normalised=normalised,
        time_raw=_event_time_raw(event),
        raw=dict(event),
    )


def parse_track_info(item: Mapping[str, Any], *, event: str | None = None) -> TrackingUpdate:
    """One `accepted[]` entry of gettrackinfo, or the `data` object of a webhook."""
    number = text_or_none(item.get("number"))
    if number is None:
        raise PayloadError("17TRACK item without a number")
    info = item.get("track_info")
    latest: Normalised | None = None
    scans: list[ScanEvent] = []
    if isinstance(info, Mapping):
        status = info.get("latest_status") if isinstance(info.get("latest_status"), Mapping) else {}
        if status.get("status") or status.get("sub_status"):
            latest = from_17track(text_or_none(status.get("status")), text_or_none(status.get("sub_status")))
        tracking = info.get("tracking") if isinstance(info.get("tracking"), Mapping) else {}
        providers = [] if tracking.get("providers") is None else tracking["providers"]
        for provider in providers if isinstance(providers, list) else [None]:
            if not isinstance(provider, Mapping):
                raise PayloadError("17TRACK providers must be a list of objects")
            events = [] if provider.get("events") is None else provider["events"]
            if not isinstance(events, list) or not all(isinstance(e, Mapping) for e in events):
                raise PayloadError("17TRACK providers[].events must be a list of objects")
            scans.extend(parse_scan(e) for e in events)
    elif event != "TRACKING_STOPPED":
        raise PayloadError("17TRACK item without track_info")
    carrier = item.get("carrier")
    return TrackingUpdate(
        provider=PROVIDER, number=number, carrier=None if carrier is None else str(carrier),
        latest=latest, events=chronological(scans), event=event, tag=text_or_none(item.get("tag")),
        stopped=event == "TRACKING_STOPPED",
    )


def parse_webhook(body: bytes | Mapping[str, Any]) -> TrackingUpdate:
    """A verified webhook body (bytes or already decoded) -> TrackingUpdate; PayloadError if malformed."""
    try:
        payload = json.loads(body) if isinstance(body, bytes | bytearray) else body
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"17TRACK webhook is not JSON: {error}") from None
    if not isinstance(payload, Mapping) or payload.get("event") not in EVENTS:
        raise PayloadError("17TRACK webhook event must be TRACKING_UPDATED or TRACKING_STOPPED")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise PayloadError("17TRACK webhook without a data object")
    return parse_track_info(data, event=payload["event"])


@dataclass(frozen=True)
class Quota:
    total: int
    used: int
    remaining: int
    today_used: int | None = None


class SeventeenTrackClient(HttpClient):
    default_base_url = BASE_URL

    def _post(self, action: str, body: Any) -> Envelope:
        response = self._http.post(f"{self.base_url}/{action}", json=body, headers={TOKEN_HEADER: self.api_key})
        if response.status_code == 401:
            raise Unauthorised("17TRACK refused the API key or caller IP", status_code=401)
        if response.status_code >= 400:
            raise AggregatorError(f"17TRACK {action} answered HTTP {response.status_code}",
                                  status_code=response.status_code)
        try:
            envelope = parse_envelope(response.json())
        except ValueError as error:
            raise AggregatorError(f"17TRACK {action} answer unreadable: {error}",
                                  status_code=response.status_code) from None
        if envelope.code != 0 or envelope.errors:
            first = envelope.errors[0] if envelope.errors else Rejection(None, envelope.code, "error")
            cls = Unauthorised if first.code == INVALID_KEY else AggregatorError
            raise cls(f"17TRACK {action}: {first.message}", status_code=response.status_code, code=first.code)
        return envelope

    def _batched(self, action: str, items: list[dict[str, Any]]) -> Envelope:
        result = Envelope(0)
        for batch in batches(items, MAX_BATCH):
            result = result.merge(self._post(action, batch))
        return result

    def register(self, items: Iterable[Ref]) -> Envelope:
        """Register numbers; `rejected_with(ALREADY_REGISTERED)` are registered already (a retry)."""
        refs = [RegisterItem(i) if isinstance(i, str) else i for i in items]
        return self._batched("register", [ref.as_json() for ref in refs])

    def get_track_info(self, refs: Iterable[Ref]) -> tuple[list[TrackingUpdate], list[Rejection]]:
        envelope = self._batched("gettrackinfo", [_ref_json(ref) for ref in refs])
        return [parse_track_info(item) for item in envelope.accepted], list(envelope.rejected)

    def stop_track(self, refs: Iterable[Ref]) -> Envelope:
        return self._batched("stoptrack", [_ref_json(ref) for ref in refs])

    def retrack(self, refs: Iterable[Ref]) -> Envelope:
        return self._batched("retrack", [_ref_json(ref) for ref in refs])

    def get_quota(self) -> Quota:
        data = self._post("getquota", {}).data
        try:
            return Quota(
                int(data["quota_total"]), int(data["quota_used"]), int(data["quota_remain"]),
                int(data["today_used"]) if data.get("today_used") is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            raise AggregatorError("17TRACK getquota answer without quota fields") from None
