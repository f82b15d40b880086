"""Fixtures of the webhook tests."""

from __future__ import annotations

import pytest

from tests.webhooks.helpers import max_outbox_id, retire_outbox_after


@pytest.fixture
def no_work_left_for_later_workers(db):
    """Retire the outbox rows of deliveries a test records only to count them: later modules'
    Celery workers relay every pending row of the run's database, and would first work through
    these."""
    first = max_outbox_id(db)
    yield
    retire_outbox_after(first)
