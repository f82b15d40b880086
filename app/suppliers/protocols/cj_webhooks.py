"""CJdropshipping webhooks: signature check on the raw body and the envelope parser.

Header `sign` = standard Base64 of HMAC-SHA256 over the raw body, keyed with the account's openId
(as a string; GET /setting/get tells it), not the API key. Nothing time-bound is signed, so the
receiver dedupes on `messageId` and reconciles through the read APIs. CJ wants an HTTP 200 within
3 s. ORDER and LOGISTIC messages are parsed into typed updates; LOGISTIC `logisticsTrackEvents`
arrives as a JSON-encoded string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.input_guard import Rejected, parse_json
from app.suppliers.protocols import Parcel, SupplierOrderState, TrackingEvent
from app.suppliers.protocols.cj import map_status, map_tracking_status, parse_time

SIGN_HEADER = "sign"


def webhook_signature(body: bytes, open_id: str | int) -> str:
    digest = hmac.new(str(open_id).encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, signature: str | None, open_id: str | int) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(webhook_signature(body, open_id).encode(), signature.strip().encode())


class CJWebhookError(ValueError):
    """The body is not a CJ webhook envelope we can read (answer 400, keep nothing)."""


@dataclass(frozen=True)
class CJOrderUpdate:
    cj_order_id: str
    order_number: str | None  # our idempotency key
    raw_status: str
    state: SupplierOrderState
    parcel: Parcel | None
    updated_at: datetime | None


@dataclass(frozen=True)
class CJLogisticUpdate:
    cj_order_id: str
    order_numbers: tuple[str, ...]
    parcel: Parcel
    tracking_status: int | None
    state: SupplierOrderState | None  # None: says nothing about the order (trackingStatus 0)


@dataclass(frozen=True)
class CJMessage:
    message_id: str
    type: str
    message_type: str
    open_id: str | None
    params: Mapping[str, Any] = field(repr=False)
    order: CJOrderUpdate | None = None
    logistic: CJLogisticUpdate | None = None


def _events(raw: Any) -> tuple[TrackingEvent, ...]:
    if isinstance(raw, str):
        # JSON inside a JSON string: the same guard as the body (depth, numbers, storable text).
        try:
            raw = parse_json(raw, what="logisticsTrackEvents") if raw.strip() else []
        except Rejected as rejected:
            raise CJWebhookError(rejected.detail) from None
    if not isinstance(raw, list):
        raise CJWebhookError("logisticsTrackEvents must be a JSON list")
    return tuple(
        TrackingEvent(
            occurred_at=parse_time(event.get("eventTime")),
            description=str(event.get("activity") or ""),
            location=event.get("location") or None,
            raw_status=str(event["status"]) if event.get("status") is not None else None,
        )
        for event in raw
        if isinstance(event, Mapping)
    )


def _order_update(params: Mapping[str, Any]) -> CJOrderUpdate:
    status = str(params.get("orderStatus") or "")
    track = params.get("trackNumber")
    return CJOrderUpdate(
        cj_order_id=str(params.get("cjOrderId") or params.get("orderId") or ""),
        order_number=str(params["orderNumber"]) if params.get("orderNumber") else None,
        raw_status=status,
        state=map_status(status),
        parcel=Parcel(tracking_number=str(track), carrier=params.get("logisticName"),
                      tracking_url=params.get("trackingUrl")) if track else None,
        updated_at=parse_time(params.get("updateDate")),
    )


def _logistic_update(params: Mapping[str, Any]) -> CJLogisticUpdate:
    number = params.get("trackingNumber")
    if not number:
        raise CJWebhookError("LOGISTIC message without trackingNumber")
    shipment_status, state = map_tracking_status(params.get("trackingStatus"))
    raw_status = params.get("trackingStatus")
    return CJLogisticUpdate(
        cj_order_id=str(params.get("orderId") or ""),
        order_numbers=tuple(str(n) for n in params.get("storeOrderNumbers") or ()),
        parcel=Parcel(
            tracking_number=str(number),
            carrier=params.get("logisticName") or params.get("trackingProvider"),
            tracking_url=params.get("trackingUrl"),
            shipment_status=shipment_status,
            events=_events(params.get("logisticsTrackEvents") or "[]"),
        ),
        tracking_status=int(raw_status) if str(raw_status).isdigit() else None,
        state=state,
    )


def parse_webhook(body: bytes | str | Mapping[str, Any]) -> CJMessage:
    """The envelope from a body the route has parsed already (app/input_guard.parse_json), or from
    raw bytes (parsed here, with the same guard)."""
    if isinstance(body, Mapping):
        envelope: Any = body
    elif not isinstance(body, bytes | bytearray | str):
        raise CJWebhookError("body must be a JSON object")
    else:
        try:
            envelope = parse_json(body)
        except Rejected as rejected:
            raise CJWebhookError(rejected.detail) from None
    if not isinstance(envelope, dict):
        raise CJWebhookError("body must be a JSON object")
    missing = [name for name in ("messageId", "type", "params") if not envelope.get(name)]
    if missing:
        raise CJWebhookError("missing " + ", ".join(missing))
    params = envelope["params"]
    if not isinstance(params, dict):
        raise CJWebhookError("params must be an object")
    kind = str(envelope["type"]).upper()
    open_id = envelope.get("openId")
    return CJMessage(
        message_id=str(envelope["messageId"]),
        type=kind,
        message_type=str(envelope.get("messageType") or ""),
        open_id=str(open_id) if open_id is not None else None,
        params=params,
        order=_order_update(params) if kind == "ORDER" else None,
        logistic=_logistic_update(params) if kind == "LOGISTIC" else None,
    )
