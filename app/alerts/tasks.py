"""Celery entry points for pre-dispute alerts (thin; see service and outcomes)."""

from __future__ import annotations

import random

from sqlalchemy.exc import OperationalError

from app.alerts import merchant_mail, outcomes, ratio_watch, service
from app.db import session_scope
from app.evidence import digest
from app.outbox.service import enqueue
from app.worker import celery_app


@celery_app.task(name="alerts.decide", autoretry_for=(OperationalError,), max_retries=10, retry_backoff=True,
                 retry_backoff_max=120, retry_jitter=True)
def decide(alert_id: int) -> str:
    with session_scope() as session:
        return service.decide(session, alert_id)


@celery_app.task(name="alerts.refund_settled", autoretry_for=(OperationalError,), max_retries=10,
                 retry_backoff=True, retry_backoff_max=120, retry_jitter=True)
def refund_settled(refund_id: int) -> str:
    with session_scope() as session:
        return service.refund_settled(session, refund_id)


# Backoff capped at 30 min: eight attempts stay well inside the provider's 24 h.
@celery_app.task(name="alerts.report_outcome", bind=True, autoretry_for=(outcomes.RetryLater, OperationalError),
                 max_retries=None, retry_backoff=True, retry_backoff_max=1800, retry_jitter=True)
def report_outcome(self, alert_id: int) -> str:
    try:
        return outcomes.report(alert_id)
    except outcomes.OutcomeBusy:
        raise self.retry(countdown=random.uniform(1.0, 3.0)) from None


@celery_app.task(name="alerts.report_due")
def report_due() -> int:
    """Beat: alerts whose decision or outcome task was lost with its worker are queued again (both
    tasks are idempotent: a second run finds the work done)."""
    with session_scope() as session:
        to_decide, to_report = service.stalled(session)
        for alert_id in to_decide:
            enqueue(session, service.DECIDE_TASK, alert_id)
        for alert_id in to_report:
            enqueue(session, service.REPORT_TASK, alert_id)
    # Refunds still pending at the store when the deadline nears: issued is reported as refunded.
    pending = 0
    with session_scope() as session:
        for refund_id in service.issued_near_deadline(session):
            pending += service.refund_settled(session, refund_id, accept_issued=True) == "outcome_due"
    return len(to_decide) + len(to_report) + pending


@celery_app.task(name="alerts.send_merchant_mail", bind=True,
                 autoretry_for=(merchant_mail.RetryLater, OperationalError), max_retries=None, retry_backoff=True,
                 retry_backoff_max=600, retry_jitter=True)
def send_merchant_mail(self, mail_id: int) -> str:
    try:
        return merchant_mail.send(mail_id)
    except merchant_mail.MailBusy:
        raise self.retry(countdown=random.uniform(1.0, 3.0)) from None


@celery_app.task(name="ratios.check_all")
def check_ratios() -> int:
    """Beat: every shop's ratios of this month and the last, warned once per month and line."""
    return ratio_watch.check_all()


@celery_app.task(name="digest.daily")
def chain_digests() -> int:
    """Beat (hourly): today's chain-head digest of every shop, written once a day."""
    return digest.daily()
