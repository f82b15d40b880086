"""Scheduling once, sending exactly once, retrying transient SMTP errors, failing visibly."""

from __future__ import annotations

from datetime import timedelta
from email.utils import formataddr

from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.notifications import branding, sending, service
from app.notifications.models import Notification
from app.outbox.models import OutboxMessage
from app.status.tokens import status_url
from tests.notifications import helpers
from tests.notifications.helpers import body_parts, events, hold_sends, kinds, paid_order, schedule_held

smtp_catcher = helpers.smtp_catcher
smtp_down = helpers.smtp_down


def _notification(notification_id: int) -> Notification:
    with get_sessionmaker()() as session:
        return session.get(Notification, notification_id)


def _scheduled(db, shop, stage="order_confirmed", **order_kwargs) -> tuple:
    order = paid_order(db, shop, **order_kwargs)
    return order, schedule_held(db, order, stage)


def test_schedule_twice_makes_one_row_one_event_one_task(db, shop):
    order = paid_order(db, shop)
    first = service.schedule(db, order, stage="order_confirmed")
    again = service.schedule(db, order, stage="order_confirmed")
    tasks = db.scalars(select(OutboxMessage).where(OutboxMessage.task_name == "notifications.send")).all()
    assert [t.args for t in tasks if t.args == [first.id]] == [[first.id]]
    hold_sends(db, first.id)
    db.commit()
    assert first is not None and again is not None and again.id == first.id
    rows = db.scalars(select(Notification).where(Notification.order_id == order.id)).all()
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].locale == "en"
    host = "127.0.0.1"
    assert rows[0].message_id.startswith("<dg.") and rows[0].message_id.endswith(f"@{host}>")
    assert kinds(order.id, "notification.") == ["notification.queued"]
    queued = events(order.id, "notification.queued")[0]
    assert queued.data["stage"] == "order_confirmed" and "recipient" not in queued.data
    assert queued.personal == {"recipient": "ada@example.com"}
    # another stage is another notification
    shipped = schedule_held(db, order, "shipped")
    assert shipped is not None and shipped.id != first.id


def test_no_customer_email_is_skipped_with_a_reason(db, shop):
    order = paid_order(db, shop, email="")
    assert service.schedule(db, order, stage="order_confirmed") is None
    assert service.schedule(db, order, stage="order_confirmed") is None
    db.commit()
    skipped = events(order.id, "notification.")
    assert [e.kind for e in skipped] == ["notification.skipped"]
    assert skipped[0].data["reason"] == "no_customer_email"
    row = db.scalar(select(Notification).where(Notification.order_id == order.id))
    assert row.status == "skipped"


def test_send_twice_delivers_once(db, shop, smtp_catcher):
    order, notification = _scheduled(db, shop, email="grace@example.com", locale="de")
    assert sending.send(notification.id).outcome == "sent"
    assert sending.send(notification.id).outcome == "sent"
    messages = smtp_catcher.to("grace@example.com")
    assert len(messages) == 1
    message = messages[0]
    stored = _notification(notification.id)
    assert stored.status == "sent" and stored.attempts == 1 and stored.sent_at is not None
    assert message["Message-ID"] == stored.message_id
    assert message["Subject"] == stored.subject and "bestätigt" in stored.subject
    assert "mailto:" in message["List-Unsubscribe"] and "/unsubscribe>" in message["List-Unsubscribe"]
    assert message["From"] == formataddr((branding.look(shop).name, "orders@dropguard.local")) and message["Date"]
    text, html = body_parts(message)
    assert status_url(order) in text and status_url(order) in html
    assert kinds(order.id, "notification.") == ["notification.queued", "notification.attempt", "notification.sent"]
    sent = events(order.id, "notification.sent")[0]
    assert sent.data["message_id"] == stored.message_id
    assert sent.data["body_digest"] == stored.body_digest
    assert sent.data["smtp_response"].startswith("250 ") and "queued as Q1" in sent.data["smtp_response"]
    assert sent.data["subject"] == stored.subject and sent.data["stage"] == "order_confirmed"
    assert sent.personal == {"recipient": "grace@example.com"}


def test_smtp_down_retries_then_fails_visibly(db, shop, smtp_down):
    order, notification = _scheduled(db, shop)
    first = sending.send(notification.id)
    assert first.outcome == "retry" and "ConnectionRefusedError" in first.error
    stored = _notification(notification.id)
    assert stored.status == "pending" and stored.attempts == 1 and "ConnectionRefused" in stored.last_error
    last = sending.send(notification.id, final_attempt=True)
    assert last.outcome == "failed"
    stored = _notification(notification.id)
    assert stored.status == "failed" and stored.attempts == 2 and stored.sent_at is None
    assert kinds(order.id, "notification.") == [
        "notification.queued",
        "notification.attempt",
        "notification.attempt_failed",
        "notification.attempt",
        "notification.attempt_failed",
        "notification.failed",
    ]
    failed = events(order.id, "notification.failed")[0]
    assert failed.data["attempts"] == 2 and failed.data["error"]
    # a failed notification is final: a stray task run sends nothing
    assert sending.send(notification.id).outcome == "failed"


def test_transient_refusal_then_success_keeps_the_message_id(db, shop, smtp_catcher):
    smtp_catcher.data_replies.append("451 4.3.0 try again later")
    order, notification = _scheduled(db, shop, email="lin@example.com")
    assert sending.send(notification.id).outcome == "retry"
    assert "451" in _notification(notification.id).last_error
    assert sending.send(notification.id).outcome == "sent"
    messages = smtp_catcher.to("lin@example.com")
    assert len(messages) == 1 and messages[0]["Message-ID"] == _notification(notification.id).message_id
    attempts = events(order.id, "notification.attempt")
    assert [a.data["attempt"] for a in attempts if a.kind == "notification.attempt"] == [1, 2]


def test_permanent_refusal_fails_at_once_without_leaking_the_address(db, shop, smtp_catcher):
    smtp_catcher.rcpt_reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    order, notification = _scheduled(db, shop, email="nobody@example.com")
    assert sending.send(notification.id).outcome == "failed"
    stored = _notification(notification.id)
    assert stored.status == "failed" and stored.last_error.startswith("550")
    for event in events(order.id, "notification."):
        assert "nobody@example.com" not in str(event.data)


def test_a_send_in_progress_is_not_duplicated_and_a_dead_one_is_resumed(db, shop, smtp_catcher):
    order, notification = _scheduled(db, shop, email="kim@example.com")
    with get_sessionmaker()() as session:
        claimed = service.claim(session, notification.id)  # a worker that then dies mid-SMTP
        session.commit()
    assert isinstance(claimed, service.Outgoing)
    busy = sending.send(notification.id)
    assert busy.outcome == "busy" and 0 < busy.retry_in <= service.SENDING_LEASE.total_seconds() + 1
    assert smtp_catcher.to("kim@example.com") == []
    with get_sessionmaker()() as session:
        resumed = service.claim(session, notification.id, now=utcnow() + service.SENDING_LEASE + timedelta(seconds=5))
        session.commit()
    assert isinstance(resumed, service.Outgoing) and resumed.message_id == claimed.message_id
    attempt = events(order.id, "notification.attempt")[-1]
    assert attempt.data["after_interrupted_attempt"] is True and attempt.data["attempt"] == 2


def test_unsubscribed_orders_get_no_more_email(db, shop, smtp_catcher):
    order, confirmed = _scheduled(db, shop, email="sam@example.com")
    assert service.unsubscribe(db, order, ip="203.0.113.9", user_agent="Mail/1.0") is True
    assert service.unsubscribe(db, order, ip="203.0.113.9", user_agent="Mail/1.0") is False
    db.commit()
    assert _notification(confirmed.id).status == "skipped"
    assert sending.send(confirmed.id).outcome == "skipped"
    assert schedule_held(db, order, "shipped") is None
    assert smtp_catcher.to("sam@example.com") == []
    skipped = events(order.id, "notification.skipped")
    assert [e.data["reason"] for e in skipped] == ["unsubscribed"]


def test_retry_delays_are_bounded():
    delays = [sending.retry_delay(n) for n in range(sending.MAX_RETRIES + 1)]
    assert 20 <= delays[0] <= 24
    assert all(d <= 360 for d in delays)
    assert sum(delays) > 15 * 60  # about a quarter of an hour of retries before giving up


def test_an_unexpected_error_on_the_last_retry_is_a_visible_failure(db, shop):
    order, notification = _scheduled(db, shop)
    with get_sessionmaker()() as session:
        service.claim(session, notification.id)  # then, say, the database went away mid-send
        session.commit()
    sending.give_up(notification.id, error="OperationalError: server closed the connection")
    stored = _notification(notification.id)
    assert stored.status == "failed" and stored.last_error.startswith("OperationalError")
    assert kinds(order.id, "notification.")[-1] == "notification.failed"
