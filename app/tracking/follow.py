"""Following parcels with the configured aggregator: registration when a number appears, and polling
(gettrackinfo / GET tracking) as the fallback when webhooks stay silent.

Registration is exactly once in effect: both aggregators refuse a number they already follow
(17TRACK -18019901, AfterShip 4003), which we read as "registered" (a retry after a lost answer).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import exactly_once
from app.config import get_settings
from app.db import session_scope, utcnow
from app.fulfilments.models import Shipment
from app.shops.models import Shop
from app.tracking import alerts, service
from app.tracking.aggregators import AggregatorError, TrackingUpdate, aftership, seventeentrack
from app.tracking.statuses import Status

SANDBOX_PATHS = {"17track": "/carriers/17track/track/v2.2",
                 "aftership": "/carriers/aftership/tracking/2026-07"}
POLL_TASK = "tracking.poll"
FINAL = (Status.DELIVERED.value, Status.RETURNED.value, Status.INVALID.value)
# The aggregator refused the number itself (not our key, quota or a passing failure).
NUMBER_REFUSED = frozenset({seventeentrack.INVALID_FORMAT, seventeentrack.CARRIER_NOT_DETECTED,
                            aftership.INVALID_NUMBER, aftership.COURIER_NOT_DETECTED})
POLL_BATCH = 200


def _base_url(provider: str) -> str:
    settings = get_settings()
    configured = settings.seventeentrack_api_url if provider == "17track" else settings.aftership_api_url
    if configured:
        return configured
    if settings.sandbox:
        return settings.sandbox_base + SANDBOX_PATHS[provider]
    return seventeentrack.BASE_URL if provider == "17track" else aftership.BASE_URL


def client(provider: str):
    settings = get_settings()
    if provider == "17track":
        return seventeentrack.SeventeenTrackClient(settings.seventeentrack_api_key, base_url=_base_url(provider))
    return aftership.AfterShipClient(settings.aftership_api_key, base_url=_base_url(provider))


def _register_call(provider: str, number: str, shipment_id: int) -> str:
    """Ask the aggregator to follow the number; returns "registered" or "already" (raises otherwise)."""
    with client(provider) as api:
        if provider == "17track":
            envelope = api.register([seventeentrack.RegisterItem(number, tag=f"shipment-{shipment_id}")])
            if number in envelope.accepted_numbers:
                return "registered"
            if envelope.rejected_with(seventeentrack.ALREADY_REGISTERED):
                return "already"
            first = envelope.rejected[0] if envelope.rejected else None
            # A refusal of the number itself (format, quota) is final for this attempt: not retried.
            raise AggregatorError(f"17TRACK refused the number: {first.message if first else 'no answer'}",
                                  status_code=422, code=first.code if first else None)
        api.create_tracking(number, order_id=f"shipment-{shipment_id}")
        return "registered"


def register(shipment_id: int) -> str:
    """Follow the shipment's number with the configured aggregator. Owns its transactions: the
    attempt is committed before the call, the result after."""
    provider = get_settings().tracking_provider
    with session_scope() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None or shipment.registered_at is not None:
            return "skipped"
        number = shipment.tracking_number
        alerts.record(session, session.get(Shop, shipment.shop_id), shipment, "tracking.register_attempt",
                      {"provider": provider})
    try:
        outcome = _register_call(provider, number, shipment_id)
    except AggregatorError as error:
        with session_scope() as session:
            shipment = session.get(Shipment, shipment_id)
            alerts.record(session, session.get(Shop, shipment.shop_id), shipment, "tracking.register_failed",
                          {"provider": provider, "error": error.message[:500], "code": error.code,
                           "retryable": error.retryable})
            if error.code in NUMBER_REFUSED and shipment.tracking_number == number:
                service.unrecognised(session, shipment, provider=provider, error=error.message)
        raise
    with session_scope() as session:
        _, shipment = exactly_once.lock_with_order(session, Shipment, shipment_id)
        if shipment.tracking_number != number:
            return "superseded"  # the number changed meanwhile; its own registration follows
        shipment.provider, shipment.registered_at = shipment.provider or provider, utcnow()
        alerts.record(session, session.get(Shop, shipment.shop_id), shipment, "tracking.registered",
                      {"provider": provider, "outcome": outcome})
        # Taken by the aggregator: a lane's number (or one our table lacks) is announced now.
        service.recognised(session, shipment, provider=provider)
    return outcome


def _fetch(provider: str, shipment: Shipment) -> TrackingUpdate | None:
    with client(provider) as api:
        if provider == "17track":
            updates, _ = api.get_track_info([shipment.tracking_number])
            return updates[0] if updates else None
        return api.find_tracking(shipment.tracking_number)


def poll(session: Session, shipment_id: int, *, now: datetime | None = None) -> str:
    """Fetch the parcel's state from its aggregator and apply it like a webhook."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or shipment.registered_at is None or shipment.status in FINAL:
        return "skipped"
    provider = shipment.provider if shipment.provider in SANDBOX_PATHS else get_settings().tracking_provider
    update = _fetch(provider, shipment)
    shipment.last_polled_at = now or utcnow()
    if update is None:
        return "not_found"
    return service.apply_scan(session, shipment, update.latest, update.events, provider, now=now)


def stale_shipments(session: Session, *, now: datetime | None = None) -> list[int]:
    """Followed, not final, and silent (no scan and no poll) for tracking_poll_after_hours."""
    cutoff = (now or utcnow()) - timedelta(hours=get_settings().tracking_poll_after_hours)
    return list(session.scalars(
        select(Shipment.id)
        .where(
            Shipment.registered_at.is_not(None),
            Shipment.registered_at < cutoff,
            Shipment.status.not_in(FINAL),
            or_(Shipment.last_event_at.is_(None), Shipment.last_event_at < cutoff),
            or_(Shipment.last_polled_at.is_(None), Shipment.last_polled_at < cutoff),
        )
        .order_by(Shipment.last_polled_at.asc().nulls_first(), Shipment.id)
        .limit(POLL_BATCH)
    ))
