"""The relay loop: wakes on a Redis nudge (or once a second) and publishes committed outbox rows."""

from __future__ import annotations

import logging
import threading

from app.db import get_sessionmaker
from app.outbox.service import relay_batch, wake_key
from app.redis import get_redis

log = logging.getLogger(__name__)


class OutboxRelay(threading.Thread):
    def __init__(self, poll_seconds: float = 1.0) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.poll_seconds = poll_seconds
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def drain(self) -> int:
        total = 0
        with get_sessionmaker()() as session:
            while published := relay_batch(session):
                total += published
        return total

    def run(self) -> None:
        redis = get_redis()
        while not self._stop_event.is_set():
            try:
                woke = redis.blpop([wake_key()], timeout=self.poll_seconds)
                if woke:
                    # Many producers may have nudged; one drain serves them all.
                    redis.delete(wake_key())
                self.drain()
            except Exception:
                log.exception("outbox.relay_failed")
                self._stop_event.wait(self.poll_seconds)
