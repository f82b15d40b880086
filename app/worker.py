"""The Celery app: queues, reliability settings, the explicit task list and the beat schedule.

Never imports app.main: the worker needs only settings, the database and the task modules.
"""

from __future__ import annotations

import time

from celery import Celery, signals
from kombu import Queue

from app.config import get_settings
from app.gc_tuning import freeze_startup_objects
from app.metrics import TASK_SECONDS
from app.outbox.relay import OutboxRelay
from app.queues import QUEUES, queue_for_task

TASK_MODULES = [
    "app.webhooks.tasks",
    "app.suppliers.tasks",
    "app.fulfilments.tasks",
    "app.inventory.tasks",
    "app.suppliers.health_tasks",
    "app.notifications.tasks",
    "app.resolutions.tasks",
    "app.refunds.tasks",
    "app.disputes.tasks",
    "app.stockout.tasks",
    "app.outbox.tasks",
    "app.shops.tasks",
    "app.tracking.tasks",
    "app.privacy.tasks",
    "app.risk.tasks",
    "app.insights.tasks",
    "app.alerts.tasks",
]


def create_celery() -> Celery:
    settings = get_settings()
    hard_limit = settings.task_hard_time_limit
    app = Celery("dropguard", include=TASK_MODULES)
    app.conf.update(
        broker_url=settings.redis_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # A message unacked this long is redelivered: it must outlive any running task.
            "visibility_timeout": hard_limit * 2 + 60,
            "global_keyprefix": settings.redis_prefix,
        },
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=hard_limit,
        task_soft_time_limit=max(hard_limit - 30, 10),
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="maintenance",
        task_routes=lambda name, *args, **kwargs: {"queue": queue_for_task(name)},
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "outbox-sweep": {"task": "outbox.sweep", "schedule": 10.0},
            # Inbox reaper (lost task messages) and outbox retention.
            "outbox-maintain": {"task": "outbox.maintain", "schedule": 300.0},
            # Messages held back by the customer's quiet hours go out when they are due.
            "notifications-release-deferred": {"task": "notifications.release_deferred", "schedule": 60.0},
            "notifications-processing": {"task": "notifications.schedule_processing", "schedule": 900.0},
            # AliExpress has no order webhook: due status/tracking polls, each with its own backoff.
            "suppliers-poll-due": {"task": "suppliers.poll_due", "schedule": 60.0},
            # Orders held while a supplier was down go out, in order, once its circuit lets them.
            "suppliers-release-queued": {"task": "suppliers.release_queued", "schedule": 5.0},
            "suppliers-check-slas": {"task": "suppliers.check_slas", "schedule": 300.0},
            # Stock changes whose debounced publish was missed, and suppliers without stock webhooks.
            "inventory-publish-pending": {"task": "inventory.publish_pending", "schedule": 30.0},
            "inventory-poll-stock": {"task": "inventory.poll_stock", "schedule": 900.0},
            "inventory-refresh-all": {"task": "inventory.refresh_all", "schedule": 6 * 3600.0},
            "shops-reconcile-subscriptions": {"task": "shops.reconcile_subscriptions", "schedule": 3600.0},
            "tracking-poll-stale": {"task": "tracking.poll_stale", "schedule": 900.0},
            "tracking-detect-delays": {"task": "tracking.detect_delays", "schedule": 1800.0},
            "privacy-housekeeping": {"task": "privacy.housekeeping", "schedule": 60.0},
            # Our refunds the store accepted with a pending transaction: read again until settled.
            "refunds-reconcile-issued": {"task": "refunds.reconcile_issued", "schedule": 300.0},
            # Disputes: complete packs sent N days before the deadline (if set), merchants reminded.
            "disputes-auto-submit": {"task": "disputes.auto_submit_due", "schedule": 900.0},
            "disputes-remind": {"task": "disputes.remind_due", "schedule": 3600.0},
            # Orders whose insight facts changed, refreshed in batches (app/insights/refresh.py).
            "insights-refresh-pending": {"task": "insights.refresh_pending", "schedule": 5.0},
            # New outcome facts and the history counts live risk scores read; models retrained daily.
            "risk-refresh-all": {"task": "risk.refresh_all", "schedule": 1800.0},
            "risk-train-all": {"task": "risk.train_all", "schedule": 24 * 3600.0},
            # Alerts whose decision or outcome task was lost: the provider must hear within 24 h.
            "alerts-report-due": {"task": "alerts.report_due", "schedule": 300.0},
            # Dispute and fraud ratios against the networks' lines: warned before a line is crossed.
            "ratios-check-all": {"task": "ratios.check_all", "schedule": 3600.0},
            # Each shop's chain head written down and e-mailed once a day (hourly runs: the first
            # after midnight UTC writes it, the others find it written).
            "digest-daily": {"task": "digest.daily", "schedule": 3600.0},
        },
    )
    return app


celery_app = create_celery()


_relay: OutboxRelay | None = None


@signals.worker_ready.connect
def _start_relay(**_: object) -> None:
    # Work enqueued by tasks is published from here without waiting for a web process or the sweeper.
    global _relay
    _relay = OutboxRelay()
    _relay.start()


@signals.worker_shutdown.connect
def _stop_relay(**_: object) -> None:
    if _relay is not None:
        _relay.stop()


@signals.worker_process_init.connect
def _fresh_connections_after_fork(**_: object) -> None:
    # A forked pool child must never share the parent's database or Redis sockets.
    from app.db import reset_engine
    from app.redis import reset_redis

    reset_engine()
    reset_redis()
    # The child starts with everything its parent imported: none of it is ever garbage.
    freeze_startup_objects()


# Task start times by task id, per pool process (prerun and postrun run in the same process).
_task_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started_at(task_id: str | None = None, **_: object) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _observe_task_time(task_id: str | None = None, task=None, state: str | None = None, **_: object) -> None:
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None and task is not None:
        TASK_SECONDS.labels(task.name, (state or "unknown").lower()).observe(time.monotonic() - started)
