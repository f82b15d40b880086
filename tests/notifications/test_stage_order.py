"""Messages of one order go out in the order they were scheduled, across quiet-hours deferrals
(issue 10: quiet-hours releases went out out of order, "shipped" before "confirmed")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from app.config import get_settings
from app.notifications import deferred, quiet, sending, service
from app.notifications.models import Notification
from app.outbox.models import OutboxMessage
from app.shops import settings as shop_settings
from tests.notifications import helpers
from tests.notifications.helpers import events, paid_order

smtp_catcher = helpers.smtp_catcher


def _hold_all_sends(db, order_id: int) -> None:
    """The test drives every send itself (no relay racing it)."""
    ids = [n.id for n in db.query(Notification).filter(Notification.order_id == order_id)]
    db.execute(update(OutboxMessage).where(OutboxMessage.task_name == "notifications.send",
                                           OutboxMessage.dispatched_at.is_(None))
               .where(OutboxMessage.args.in_([[i] for i in ids])).values(dispatched_at=datetime.now(UTC)))


def _quiet_now(monkeypatch) -> None:
    hour = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")).hour
    monkeypatch.setattr(get_settings(), "quiet_hours", (hour, (hour + 1) % 24))


def test_shipped_never_goes_before_a_confirmation_held_by_quiet_hours(db, make_shop, monkeypatch, smtp_catcher):
    shop = make_shop()
    order = paid_order(db, shop, locale="fr", country="FR", email="zoe@example.com")
    _quiet_now(monkeypatch)
    confirmed = service.schedule(db, order, stage="order_confirmed")
    db.commit()
    assert confirmed.status == "deferred"

    # Quiet hours are over by the time the parcel ships (or the shop turned them off)...
    monkeypatch.setattr(get_settings(), "quiet_hours", (0, 0))
    shipped = service.schedule(db, order, stage="shipped")
    _hold_all_sends(db, order.id)
    db.commit()
    # ...yet "shipped" waits behind the confirmation, until the same morning.
    assert shipped.status == "deferred" and shipped.due_at == confirmed.due_at
    held = [e.data for e in events(order.id, "notification.deferred")]
    assert [h["why"] for h in held] == ["quiet_hours", "after_earlier_message"]

    assert deferred.release_deferred(db, now=confirmed.due_at + timedelta(seconds=1)) >= 2
    _hold_all_sends(db, order.id)
    db.commit()
    # The send tasks race: "shipped" first finds the confirmation not sent yet and waits.
    assert sending.send(shipped.id).outcome == "busy"
    assert sending.send(confirmed.id).outcome == "sent"
    assert sending.send(shipped.id).outcome == "sent"
    stages = [m["X-Dropguard-Stage"] for m in smtp_catcher.to("zoe@example.com")]
    assert stages == ["order_confirmed", "shipped"]


def test_a_released_message_waits_with_an_earlier_one_still_held(db, make_shop, monkeypatch):
    shop = make_shop()
    order = paid_order(db, shop, locale="fr", country="FR")
    monkeypatch.setattr(get_settings(), "quiet_hours", (0, 0))
    confirmed = service.schedule(db, order, stage="order_confirmed")
    shipped = service.schedule(db, order, stage="shipped")
    _hold_all_sends(db, order.id)
    # The confirmation got held (say, a shop's later quiet-hours change) after "shipped" was queued.
    confirmed.status, confirmed.due_at = "deferred", datetime.now(UTC) + timedelta(hours=3)
    db.commit()
    assert service.claim(db, shipped.id) == "deferred"
    db.commit()
    db.refresh(shipped)
    assert shipped.status == "deferred" and shipped.due_at == confirmed.due_at


def test_the_merchants_quiet_hours_are_the_ones_applied(db, make_shop, monkeypatch):
    shop = make_shop()
    monkeypatch.setattr(get_settings(), "quiet_hours", (0, 0))
    assert quiet.hours_for(shop) == (0, 0)  # never saved: the operator's default
    current = shop_settings.load(shop)
    current.notifications.quiet_hours.start_hour, current.notifications.quiet_hours.end_hour = 22, 7
    # Saving only a changed section: change the hours from the defaults so the section is stored.
    shop_settings.save(db, shop, current)
    db.commit()
    assert quiet.hours_for(shop) == (22, 7)
    current.notifications.quiet_hours.enabled = False
    shop_settings.save(db, shop, current)
    db.commit()
    assert quiet.hours_for(shop) == (0, 0)


def test_a_stuck_earlier_message_is_not_waited_for_forever(db, make_shop, monkeypatch):
    shop = make_shop()
    order = paid_order(db, shop)
    monkeypatch.setattr(get_settings(), "quiet_hours", (0, 0))
    confirmed = service.schedule(db, order, stage="order_confirmed")
    shipped = service.schedule(db, order, stage="shipped")
    _hold_all_sends(db, order.id)
    db.commit()
    assert isinstance(service.claim(db, shipped.id), service.Busy)  # on its way: wait for it
    db.rollback()
    db.execute(update(Notification).where(Notification.id == confirmed.id)
               .values(updated_at=datetime.now(UTC) - service.BEHIND_AT_MOST - timedelta(minutes=1)))
    db.commit()
    claimed = service.claim(db, shipped.id)
    assert isinstance(claimed, service.Outgoing) and claimed.stage == "shipped"
    db.rollback()
