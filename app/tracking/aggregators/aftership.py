"""AfterShip Tracking: a small client (create, get, find), the webhook signature and payload.

API calls send the header `as-api-key`; answers are `{meta: {code, message, type}, data}` where
`data` is the tracking (older API versions wrap it as `data.tracking`; both are read). Webhooks
carry `aftership-hmac-sha256` = base64 HMAC-SHA256 of the raw body keyed with the webhook secret,
and the body `{event, event_id, is_tracking_first_tag, msg: <tracking>, ts}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from app.tracking.aggregators import (
    AggregatorError,
    HttpClient,
    PayloadError,
    ScanEvent,
    TrackingUpdate,
    Unauthorised,
    chronological,
    parse_time,
    text_or_none,
)
from app.tracking.statuses import Provider, from_aftership

BASE_URL = "https://api.aftership.com/tracking/2026-07"
API_KEY_HEADER = "as-api-key"
HMAC_HEADER = "aftership-hmac-sha256"
PROVIDER = Provider.AFTERSHIP.value

TRACKING_EXISTS = 4003
TRACKING_NOT_FOUND = 4004
INVALID_NUMBER = 4005
# No courier's number format fits (AfterShip's auto-detection).
COURIER_NOT_DETECTED = 4012


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


def _location(checkpoint: Mapping[str, Any]) -> str | None:
    location = text_or_none(checkpoint.get("location"))
    if location:
        return location
    country = checkpoint.get("country_region") or checkpoint.get("country_iso3") or checkpoint.get("country_name")
    parts = [text_or_none(checkpoint.get(k)) for k in ("city", "state", "zip")] + [text_or_none(country)]
    return ", ".join(p for p in parts if p) or None


def parse_checkpoint(checkpoint: Mapping[str, Any]) -> ScanEvent:
    tag = text_or_none(checkpoint.get("tag"))
    subtag = text_or_none(checkpoint.get("subtag"))
    return ScanEvent(
        time=parse_time(checkpoint.get("checkpoint_time")),
        location=_location(checkpoint),
        description=text_or_none(checkpoint.get("message")),
        raw_status=subtag or tag,
        normalised=from_aftership(tag, subtag) if tag or subtag else None,
        time_raw=text_or_none(checkpoint.get("checkpoint_time")),
        raw=dict(checkpoint),
    )


def parse_tracking(
    tracking: Mapping[str, Any], *, event: str | None = None, event_id: str | None = None
) -> TrackingUpdate:
    number = text_or_none(tracking.get("tracking_number"))
    if number is None:
        raise PayloadError("AfterShip tracking without a tracking_number")
    tag = text_or_none(tracking.get("tag"))
    subtag = text_or_none(tracking.get("subtag"))
    checkpoints = [] if tracking.get("checkpoints") is None else tracking["checkpoints"]
    if not isinstance(checkpoints, list):
        raise PayloadError("AfterShip checkpoints must be a list")
    return TrackingUpdate(
        provider=PROVIDER, number=number, carrier=text_or_none(tracking.get("slug")),
        latest=from_aftership(tag, subtag),
        events=chronological([parse_checkpoint(c) for c in checkpoints if isinstance(c, Mapping)]),
        event=event, event_id=event_id, provider_id=text_or_none(tracking.get("id")),
        tag=text_or_none(tracking.get("order_id")),
        # AfterShip stops following a tracking some days after its last update (active: false).
        stopped=tracking.get("active") is False,
    )


def parse_webhook(body: bytes | Mapping[str, Any]) -> TrackingUpdate:
    """A verified webhook body -> TrackingUpdate; PayloadError when it is not a tracking update."""
    try:
        payload = json.loads(body) if isinstance(body, bytes | bytearray) else body
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"AfterShip webhook is not JSON: {error}") from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("msg"), Mapping):
        raise PayloadError("AfterShip webhook without a msg object")
    event = text_or_none(payload.get("event"))
    if event != "tracking_update":
        raise PayloadError(f"AfterShip webhook event {event!r} is not a tracking update")
    return parse_tracking(payload["msg"], event=event, event_id=text_or_none(payload.get("event_id")))


def _tracking_of(data: Any) -> Mapping[str, Any]:
    if isinstance(data, Mapping) and isinstance(data.get("tracking"), Mapping):
        return data["tracking"]
    if isinstance(data, Mapping) and "tracking_number" in data:
        return data
    raise PayloadError("AfterShip answer without a tracking")


class AfterShipClient(HttpClient):
    default_base_url = BASE_URL

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(
            method, f"{self.base_url}{path}", headers={API_KEY_HEADER: self.api_key}, **kwargs
        )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        meta = payload.get("meta") if isinstance(payload, Mapping) else None
        meta = meta if isinstance(meta, Mapping) else {}
        if response.status_code >= 400:
            cls = Unauthorised if response.status_code == 401 else AggregatorError
            raise cls(
                f"AfterShip {method} {path}: {meta.get('message') or f'HTTP {response.status_code}'}",
                status_code=response.status_code, code=meta.get("code"),
            )
        if payload is None or "data" not in payload:
            raise AggregatorError(f"AfterShip {method} {path}: answer without data", status_code=response.status_code)
        return payload["data"]

    def create_tracking(
        self, tracking_number: str, *, slug: str | None = None, order_id: str | None = None,
        custom_fields: Mapping[str, str] | None = None,
    ) -> TrackingUpdate:
        """Create it; if AfterShip already has it (our retry), return the existing one instead."""
        body: dict[str, Any] = {"tracking_number": tracking_number}
        for name, value in (("slug", slug), ("order_id", order_id), ("custom_fields", custom_fields)):
            if value is not None:
                body[name] = dict(value) if isinstance(value, Mapping) else value
        try:
            return parse_tracking(_tracking_of(self._call("POST", "/trackings", json=body)))
        except AggregatorError as error:
            if error.code != TRACKING_EXISTS:
                raise
        existing = self.find_tracking(tracking_number, slug=slug)
        if existing is None:
            raise AggregatorError("AfterShip says the tracking exists but cannot find it", code=TRACKING_EXISTS)
        return existing

    def get_tracking(self, tracking_id: str) -> TrackingUpdate:
        return parse_tracking(_tracking_of(self._call("GET", f"/trackings/{tracking_id}")))

    def find_tracking(self, tracking_number: str, *, slug: str | None = None) -> TrackingUpdate | None:
        params = {"tracking_numbers": tracking_number}
        if slug:
            params["slug"] = slug
        data = self._call("GET", "/trackings", params=params)
        trackings = data.get("trackings") if isinstance(data, Mapping) else None
        if not isinstance(trackings, list):
            raise PayloadError("AfterShip tracking list without trackings")
        for tracking in trackings:
            if isinstance(tracking, Mapping) and tracking.get("tracking_number") == tracking_number:
                return parse_tracking(tracking)
        return None
