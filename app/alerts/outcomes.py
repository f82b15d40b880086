"""Reporting an alert's outcome to its provider, exactly once (app/exactly_once.py).

An outcome is final once the provider has it (a second, different one is refused), so: the
alert's advisory lock; the attempt recorded and committed; the provider asked first whether it
already holds an outcome for the alert (an earlier attempt whose answer was lost is adopted); then
the outcome POSTed with an Idempotency-Key derived from the alert; the answer recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from app import exactly_once
from app.alerts.models import PreDisputeAlert
from app.alerts.service import record_event
from app.config import get_settings
from app.db import utcnow
from app.external_calls import Call
from app.shops import guard
from app.shops.models import Shop

# The first call and seven retries; after that the alert stays owed and shows on the dashboard.
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10.0


class OutcomeBusy(Exception):
    """Another task is reporting this alert's outcome."""


class RetryLater(Exception):
    """The provider could not take the outcome now."""


def api_base() -> str:
    settings = get_settings()
    if settings.alert_provider_api_url:
        return settings.alert_provider_api_url.rstrip("/")
    if settings.sandbox:
        return f"{settings.public_base}/sandbox/alerts/api"
    raise RuntimeError("alert_provider_api_url is not set")


@dataclass
class _Attempt:
    alert_id: int
    external_id: str
    number: int
    outcome: str
    body: dict[str, Any]

    @property
    def key(self) -> str:
        return f"dg-alert-outcome-{self.alert_id}"


@dataclass
class _Result:
    kind: str  # reported | found | refused | temporary
    calls: list[Call] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None


def _begin(session, alert_id: int) -> _Attempt | str:
    alert = session.get(PreDisputeAlert, alert_id, with_for_update=True)
    if alert is None:
        return "missing"
    if alert.reported_at is not None or alert.status != "outcome_due" or alert.outcome is None:
        return alert.status
    shop = session.get(Shop, alert.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "alert", alert.id, order_id=alert.order_id):
        return skipped
    if alert.outcome_attempts >= MAX_ATTEMPTS:
        return alert.status
    alert.outcome_attempts += 1
    body: dict[str, Any] = {"outcome": alert.outcome, "reference": f"dropguard-alert-{alert.id}"}
    if alert.refund_id is not None and alert.outcome == "refunded":
        from app.refunds.models import Refund

        refund = session.get(Refund, alert.refund_id)
        body["refund"] = {"amount": str(refund.amount), "currency": refund.currency,
                          "store_refund_id": refund.external_id}
    record_event(session, shop, alert, "alert.outcome_attempt", {"attempt": alert.outcome_attempts, "outcome": alert.outcome})
    return _Attempt(alert.id, alert.external_id, alert.outcome_attempts, alert.outcome, body)


def _timed(client: httpx.Client, calls: list[Call], method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as error:
        calls.append(Call(method, path, None, int((time.monotonic() - started) * 1000), f"{type(error).__name__}"))
        return None
    calls.append(Call(method, path, response.status_code, int((time.monotonic() - started) * 1000)))
    return response


def _call(attempt: _Attempt, transport: httpx.BaseTransport | None) -> _Result:
    settings = get_settings()
    calls: list[Call] = []
    headers = {"X-Api-Key": settings.alert_provider_api_key}
    with httpx.Client(base_url=api_base(), headers=headers, timeout=TIMEOUT_SECONDS, transport=transport) as client:
        path = f"/alerts/{attempt.external_id}"
        found = _timed(client, calls, "GET", path)
        if found is None or found.status_code >= 500 or found.status_code == 429:
            return _Result("temporary", calls, error="the provider did not answer the read")
        if found.status_code == 404:
            return _Result("refused", calls, error="the provider does not know this alert")
        if found.status_code >= 400:
            return _Result("refused", calls, error=f"the provider refused the read ({found.status_code})")
        held = (found.json() or {}).get("outcome")
        if held:
            return _Result("found", calls, outcome=held)
        sent = _timed(client, calls, "POST", f"{path}/outcome", json=attempt.body,
                      headers={"Idempotency-Key": attempt.key})
        if sent is None or sent.status_code >= 500 or sent.status_code == 429:
            return _Result("temporary", calls, error="the provider did not take the outcome")
        if sent.status_code >= 400:
            detail = sent.text[:300]
            return _Result("refused", calls, error=f"the provider refused the outcome ({sent.status_code}): {detail}")
        return _Result("reported", calls, outcome=(sent.json() or {}).get("outcome") or attempt.outcome)


def _finish(session, attempt: _Attempt, result: _Result) -> str:
    alert = session.get(PreDisputeAlert, attempt.alert_id, with_for_update=True)
    shop = session.get(Shop, alert.shop_id)
    calls = [c.as_data() for c in result.calls]
    if result.kind in ("reported", "found"):
        alert.reported_at, alert.status, alert.last_error = utcnow(), "reported", None
        # What the provider holds is the outcome: an earlier attempt's, if its answer was lost.
        held = result.outcome or attempt.outcome
        record_event(session, shop, alert, "alert.outcome_reported", {
            "outcome": held, "ours": attempt.outcome, "via": "answer" if result.kind == "reported" else "lookup",
            "within_deadline": alert.reported_at <= alert.outcome_due_at, "calls": calls})
        return "reported"
    alert.last_error = result.error
    if result.kind == "refused" or attempt.number >= MAX_ATTEMPTS:
        record_event(session, shop, alert, "alert.outcome_failed", {"attempt": attempt.number, "error": result.error,
                                                              "calls": calls})
        return "failed"
    record_event(session, shop, alert, "alert.outcome_call_failed", {"attempt": attempt.number, "error": result.error,
                                                               "calls": calls})
    return "retry"


def report(alert_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Report one alert's outcome. Raises OutcomeBusy / RetryLater for the task to retry."""
    outcome, result = exactly_once.carry_out(
        exactly_once.ALERT_OUTCOME, alert_id, begin=lambda session: _begin(session, alert_id),
        call=lambda attempt: _call(attempt, transport), finish=_finish,
        busy=lambda: OutcomeBusy(f"alert {alert_id} is being reported by another task"),
    )
    if outcome == "retry":
        raise RetryLater(result.error if result else "temporary provider error")
    return outcome
