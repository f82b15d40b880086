"""Quiet hours in the customer's zone: held back as "deferred", released by the beat's function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.config import get_settings
from app.notifications import deferred, quiet
from app.notifications import service as notifications
from app.notifications.models import Notification
from app.outbox.models import OutboxMessage
from tests.notifications.helpers import kinds, paid_order


@pytest.mark.parametrize(
    ("country", "province", "zone"),
    [
        ("US", "CA", "America/Los_Angeles"),
        ("US", "NY", "America/New_York"),
        ("US", "US-TX", "America/Chicago"),
        ("CA", "BC", "America/Vancouver"),
        ("AU", "WA", "Australia/Perth"),
        ("FR", None, "Europe/Paris"),
        ("de", "", "Europe/Berlin"),
        ("US", "ZZ", "America/New_York"),  # unknown province: the country's main zone
        ("XX", None, "Asia/Tokyo"),  # unknown country: the shop's zone
        (None, None, "Asia/Tokyo"),
    ],
)
def test_zone_from_the_shipping_address(country, province, zone):
    assert quiet.zone_for(country, province, "Asia/Tokyo").key == zone


def test_release_time_across_midnight():
    paris = ZoneInfo("Europe/Paris")
    quiet_hours = (21, 8)

    def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
        return datetime(2026, 3, day, hour, minute, tzinfo=paris).astimezone(UTC)

    assert quiet.release_time(at(12), paris, quiet_hours) is None
    assert quiet.release_time(at(20, 59), paris, quiet_hours) is None
    assert quiet.release_time(at(21), paris, quiet_hours) == at(8, day=11)
    assert quiet.release_time(at(23, 30), paris, quiet_hours) == at(8, day=11)
    assert quiet.release_time(at(3), paris, quiet_hours) == at(8)
    assert quiet.release_time(at(8), paris, quiet_hours) is None
    assert quiet.release_time(at(3), paris, (0, 0)) is None  # off
    # A daytime quiet period works too (start < end).
    assert quiet.release_time(at(13), paris, (12, 14)) == at(14)


def test_message_due_in_quiet_hours_is_deferred_then_released(db, make_shop, monkeypatch):
    shop = make_shop()
    order = paid_order(db, shop, locale="fr", country="FR")
    now_paris = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris"))
    # Quiet for the customer right now, whatever hour the suite runs.
    monkeypatch.setattr(get_settings(), "quiet_hours", (now_paris.hour, (now_paris.hour + 1) % 24))
    notification = notifications.schedule(db, order, stage="processing")
    db.commit()

    assert notification.status == "deferred"
    expected = now_paris.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert notification.due_at == expected.astimezone(UTC)
    outbox = select(OutboxMessage).where(
        OutboxMessage.task_name == "notifications.send", OutboxMessage.args == [notification.id]
    )
    assert db.scalars(outbox).all() == []  # no long ETA task anywhere
    (deferred_event,) = [k for k in kinds(order.id, "notification.deferred")]
    assert deferred_event == "notification.deferred"

    # The send task finds nothing to do while it is deferred.
    assert notifications.claim(db, notification.id) == "deferred"
    db.rollback()
    # Before the due time the beat releases nothing of this order; after it, the message goes.
    deferred.release_deferred(db, now=notification.due_at - timedelta(seconds=1))
    db.commit()
    assert db.get(Notification, notification.id).status == "deferred"
    deferred.release_deferred(db, now=notification.due_at + timedelta(seconds=1))
    db.commit()
    db.expire_all()
    assert db.get(Notification, notification.id).status == "pending"
    assert len(db.scalars(outbox).all()) == 1
    assert "notification.released" in kinds(order.id, "notification.")


def test_outside_quiet_hours_goes_at_once(db, make_shop, monkeypatch):
    shop = make_shop()
    order = paid_order(db, shop, country="US")
    monkeypatch.setattr(get_settings(), "quiet_hours", (0, 0))
    notification = notifications.schedule(db, order, stage="processing")
    db.commit()
    assert notification.status == "pending" and notification.due_at is None
