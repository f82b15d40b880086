"""Celery entry points for notifications: thin wrappers around app.notifications.sending."""

from __future__ import annotations

from app.db import session_scope
from app.notifications import deferred, processing, sending
from app.worker import celery_app


@celery_app.task(name="notifications.send", bind=True, max_retries=sending.MAX_RETRIES)
def send_notification(self, notification_id: int) -> str:
    """Send one customer email at most once; transient SMTP errors retry with backoff."""
    final = self.request.retries >= self.max_retries
    try:
        result = sending.send(notification_id, final_attempt=final)
    except Exception as error:  # a database or broker hiccup, or a bug: retried, then visible
        if final:
            sending.give_up(notification_id, error=f"{type(error).__name__}: {error}")
            raise
        raise self.retry(exc=error, countdown=sending.retry_delay(self.request.retries)) from error
    if result.outcome == "retry":
        raise self.retry(countdown=sending.retry_delay(self.request.retries))
    if result.outcome == "busy":
        # Another run holds the send; its lease ends the wait, so this never loops for long and
        # must not use up the retries meant for SMTP errors.
        raise self.retry(countdown=result.retry_in, max_retries=self.request.retries + 1)
    return result.outcome


@celery_app.task(name="notifications.release_deferred")
def release_deferred() -> int:
    """Beat, every minute: messages whose customer's quiet hours are over go to notifications.send."""
    with session_scope() as session:
        return deferred.release_deferred(session)


@celery_app.task(name="notifications.schedule_processing")
def schedule_processing() -> int:
    """Beat: "we are preparing your order" for paid orders still without tracking after a while."""
    with session_scope() as session:
        return processing.schedule_due(session)
