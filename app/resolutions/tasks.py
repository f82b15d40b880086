"""Celery entry point for resolutions: carry out an approved remedy (thin; see executing)."""

from __future__ import annotations

from app.resolutions import executing
from app.worker import celery_app

_DELAYS = (10, 30, 90, 270, 600)


@celery_app.task(name="resolutions.execute", bind=True, max_retries=len(_DELAYS))
def execute_resolution(self, resolution_id: int) -> str:
    try:
        return executing.execute(resolution_id)
    except executing.RetryLater as error:
        if self.request.retries >= self.max_retries:
            executing.give_up(resolution_id, error=f"the store kept failing: {error}")
            return "failed"
        raise self.retry(exc=error, countdown=_DELAYS[min(self.request.retries, len(_DELAYS) - 1)]) from error
