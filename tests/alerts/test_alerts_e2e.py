"""Alerts end to end with the real web server, outbox relay, prefork worker and the sandbox's store
and alert provider: the provider's signed alert arrives, the unshipped order is refunded at the
store and the outcome reported back; the worker is SIGKILLed at the two worst moments (the store
made the refund but its answer is in flight; the provider took the outcome but its answer is in
flight) and still there is one refund and one outcome."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from app.db import get_sessionmaker
from app.refunds.models import Refund
from tests.alerts.helpers import alert_kinds, alert_row
from tests.fixtures import wait_for
from tests.refunds.helpers import behave, store_order, store_refunds
from tests.suppliers.e2e import live_url, store_shop, worker_children_calling_live_server

pytestmark = pytest.mark.e2e


def _provider(path: str, **kwargs) -> httpx.Response:
    response = httpx.request(kwargs.pop("method", "GET"), f"{live_url()}/sandbox/alerts{path}", timeout=30, **kwargs)
    response.raise_for_status()
    return response


def _send_alert(shop, order) -> str:
    created = _provider("/_control/alerts", method="POST", json={
        "shop": shop.domain, "type": "cdrn", "card_network": "visa", "order_reference": order.name,
        "amount": str(order.total_price), "currency": order.currency, "reason": "not_received", "reason_code": "13.1"})
    assert created.json()["delivered"] is True
    return created.json()["alert"]["id"]


def _at_provider(alert_id: str) -> dict:
    return _provider(f"/_control/alerts/{alert_id}").json()["alert"]


def _refund(refund_id: int) -> Refund:
    with get_sessionmaker()() as session:
        return session.get(Refund, refund_id)


def test_worker_killed_while_the_refund_answer_is_in_flight_refunds_once_and_reports_once(
        db, live_server, celery_worker):
    shop = store_shop(db)
    order, store = store_order(db, shop)
    # The store makes the refund, then holds its answer back for 20 s.
    behave(shop, hang_next=1, hang_ms=20000)
    external = _send_alert(shop, order)
    wait_for(lambda: store_refunds(store["id"]), timeout=60, message="the refund at the store")
    children = wait_for(worker_children_calling_live_server, timeout=10, message="the pool child in the call")
    for child in children:
        os.kill(child.pid, signal.SIGKILL)

    reported = wait_for(lambda: (row := alert_row(external)) and row.status == "reported" and row, timeout=90,
                        message="the alert's outcome reported")
    assert (reported.decision, reported.decision_rule, reported.outcome) == ("refund", "not_shipped", "refunded")
    assert reported.reported_at <= reported.outcome_due_at
    refund = _refund(reported.refund_id)
    assert refund.status == "confirmed" and refund.attempts == 2
    assert len(store_refunds(store["id"])) == 1
    provider = _at_provider(external)
    assert provider["outcome"] == "refunded" and len(provider["outcome_posts"]) == 1
    assert provider["outcome_posts"][0]["refund"]["amount"] == str(order.total_price)
    kinds = alert_kinds(reported.id)
    assert kinds[:3] == ["alert.received", "alert.decided", "alert.refund_requested"]
    assert kinds.count("alert.refund_settled") == 1 and kinds.count("alert.outcome_reported") == 1


def test_worker_killed_while_the_outcome_answer_is_in_flight_reports_once(db, live_server, celery_worker):
    shop = store_shop(db)
    order, store = store_order(db, shop)
    # The provider stores the outcome, then holds its answer back for 20 s.
    _provider("/_control/behaviour", method="POST", json={"hang_next": 1, "hang_ms": 20000})
    try:
        external = _send_alert(shop, order)
        wait_for(lambda: _at_provider(external)["outcome"], timeout=90, message="the outcome at the provider")
        children = wait_for(worker_children_calling_live_server, timeout=10, message="the pool child in the call")
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        reported = wait_for(lambda: (row := alert_row(external)) and row.status == "reported" and row, timeout=90,
                            message="the alert's outcome reported")
    finally:
        _provider("/_control/behaviour", method="POST", json={"reset": True})
    assert reported.outcome == "refunded" and reported.outcome_attempts == 2
    assert len(_at_provider(external)["outcome_posts"]) == 1  # the retry read it, and did not post again
    assert len(store_refunds(store["id"])) == 1
    kinds = alert_kinds(reported.id)
    assert kinds.count("alert.outcome_attempt") == 2 and kinds.count("alert.outcome_reported") == 1
