"""Registration with the aggregator and the polling fallback, against the sandbox emulators."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.config import get_settings
from app.db import get_sessionmaker, utcnow
from app.fulfilments.models import Shipment
from app.tracking import follow
from app.tracking.tasks import register as register_task
from tests.suppliers.helpers import events, hold_outbox
from tests.tracking.helpers import reload, shipment_for

DEAD_END = "http://127.0.0.1:9/nowhere"  # webhooks go nowhere: only the poll can learn the scans


def _control(live: str, number: str, scenario: str = "delivered") -> None:
    httpx.post(f"{live}/sandbox/carriers/_control/parcels",
               json={"number": number, "scenario": scenario, "webhook_url": DEAD_END}, timeout=10).raise_for_status()


@pytest.mark.parametrize("provider", ["17track", "aftership"])
def test_register_once_then_poll_when_webhooks_stay_silent(db, shop, live_server, monkeypatch, provider):
    monkeypatch.setattr(get_settings(), "tracking_provider", provider)
    shipped = utcnow() - timedelta(days=2)
    _, shipment = shipment_for(db, shop, shipped_at=shipped)
    _control(live_server, shipment.tracking_number)
    assert follow.register(shipment.id) == "registered"
    assert follow.register(shipment.id) == "skipped"
    # A retry after a lost answer (registered there, not recorded here) adopts the registration.
    with get_sessionmaker()() as session:
        session.get(Shipment, shipment.id).registered_at = None
        session.commit()
    assert follow.register(shipment.id) == ("already" if provider == "17track" else "registered")
    assert [e.data["provider"] for e in events(shop.domain, "tracking.registered")] == [provider, provider]
    registered = reload(shipment.id)
    assert registered.provider == provider

    for hours in (1, 2):
        httpx.post(f"{live_server}/sandbox/carriers/_control/advance",
                   json={"number": shipment.tracking_number, "provider": provider,
                         "at": (shipped + timedelta(hours=hours)).isoformat()}, timeout=30).raise_for_status()
    later = utcnow() + timedelta(hours=get_settings().tracking_poll_after_hours + 1)
    with get_sessionmaker()() as session:
        assert shipment.id in follow.stale_shipments(session, now=later)
        assert follow.poll(session, shipment.id) == "changed"
        hold_outbox(session)
        session.commit()
    polled = reload(shipment.id)
    assert polled.status == "in_transit" and polled.last_polled_at is not None
    assert polled.first_scan_at == (shipped + timedelta(hours=2)).replace(microsecond=0)
    with get_sessionmaker()() as session:
        assert shipment.id not in follow.stale_shipments(session)  # just polled, just scanned
        assert follow.poll(session, shipment.id) == "unchanged"  # the same scans again change nothing
        session.rollback()
    assert len(events(shop.domain, "shipment.status_changed")) == 1


def test_a_number_the_aggregator_refuses_is_recorded_and_not_retried(db, shop, live_server, monkeypatch):
    monkeypatch.setattr(get_settings(), "tracking_provider", "17track")
    _, shipment = shipment_for(db, shop, number="AB1")  # too short for any carrier
    assert register_task.run(shipment.id).startswith("refused: 17TRACK refused the number")
    (failed,) = events(shop.domain, "tracking.register_failed")
    assert failed.data["code"] == -18010012 and failed.data["retryable"] is False
    assert reload(shipment.id).registered_at is None
