"""One attempt at sending a notification, in three transactions around the SMTP call.

This is the one place in the domain that commits: exactly-once needs the attempt committed before
the message leaves (so a crash mid-send is on record and the retry reuses the Message-ID), and the
SMTP call must not hold a row lock or a transaction open while it waits on the network.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from app.db import session_scope
from app.notifications import channels, mailer, service

MAX_RETRIES = 6
_BASE_DELAY_SECONDS = 20
_MAX_DELAY_SECONDS = 300  # well under the broker's visibility timeout: no long ETA tasks on Redis


@dataclass(frozen=True)
class Result:
    # sent | retry | busy | failed | skipped | missing
    outcome: str
    retry_in: float = 0.0
    error: str | None = None


def retry_delay(retries: int) -> float:
    """20 s, 60 s, 180 s, then 300 s, each with up to 20 % jitter so retries do not stampede."""
    delay = min(_BASE_DELAY_SECONDS * 3**retries, _MAX_DELAY_SECONDS)
    return delay * (1 + random.random() * 0.2)


def send(notification_id: int, *, final_attempt: bool = False) -> Result:
    with session_scope() as session:
        claimed = service.claim(session, notification_id)
    if isinstance(claimed, service.Busy):
        return Result("busy", retry_in=claimed.retry_in)
    if isinstance(claimed, str):
        return Result(claimed)
    try:
        # After a send that died midway, a provider that can be asked is asked first.
        found = channels.already_sent(claimed.channel, recipient=claimed.recipient, text=claimed.text) if (
            claimed.interrupted
        ) else None
        reply = found or channels.deliver(
            claimed.channel, recipient=claimed.recipient, email=claimed.message, text=claimed.text
        )
    except mailer.MailError as error:
        final = final_attempt or not error.transient
        with session_scope() as session:
            status = service.record_error(session, notification_id, error=str(error), final=final)
        return Result("failed" if status == "failed" else "retry", error=str(error))
    with session_scope() as session:
        service.mark_sent(session, claimed, smtp_response=reply)
    return Result("sent")


def give_up(notification_id: int, *, error: str) -> None:
    """The last retry ended in an unexpected error: make the failure visible, not a stuck row."""
    with session_scope() as session:
        service.record_error(session, notification_id, error=error, final=True)
