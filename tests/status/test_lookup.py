"""GET /status and POST /status/lookup: a match redirects to the signed link; every miss looks alike."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.status.tokens import status_url
from tests.notifications.helpers import events, paid_order


@pytest.fixture
def limits(monkeypatch):
    """Generous limits by default (the suite shares one client IP); tests tighten them."""
    settings = get_settings()
    monkeypatch.setattr(settings, "status_lookup_per_ip", 10_000)
    monkeypatch.setattr(settings, "status_lookup_per_order", 10_000)
    return settings


def _number() -> int:
    return int(uuid.uuid4().int % 10**8) + 10**8


def _lookup(client, order: str, email: str, **extra):
    return client.post("/status/lookup", data={"order": order, "email": email, **extra}, follow_redirects=False)


def test_form_is_served_in_the_visitors_language(client):
    page = client.get("/status", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert page.status_code == 200
    assert "Wo ist meine Bestellung?" in page.text and 'name="order"' in page.text and 'name="email"' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_match_redirects_to_the_signed_link_and_is_evidence(db, client, make_shop, limits):
    shop = make_shop()
    order = paid_order(db, shop, number=_number(), email="Ada.Lovelace@Example.com")
    response = _lookup(client, f"  {order.name} ", "ada.lovelace@example.COM")
    assert response.status_code == 303
    assert response.headers["location"] == status_url(order)
    # Without the "#" too.
    assert _lookup(client, order.name.lstrip("#"), "ada.lovelace@example.com").status_code == 303
    (first, _second) = [row for row in events(order.id, "status_page.lookup")]
    assert first.data == {"result": "matched", "order_status": order.status}
    assert first.personal["ip"] == "testclient"


def test_unknown_order_wrong_email_and_malformed_input_get_the_same_answer(db, client, make_shop, limits):
    shop = make_shop()
    order = paid_order(db, shop, number=_number(), email="grace@example.com")
    answers = [
        _lookup(client, f"#{_number()}", "grace@example.com"),  # unknown order
        _lookup(client, order.name, "someone@example.com"),  # wrong email
        _lookup(client, "'; DROP TABLE orders; --", "not an email"),  # malformed
        _lookup(client, "", ""),  # empty
        _lookup(client, order.name, "x" * 399 + "@example.com"),  # too long for an address
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert "We could not find an order with these details." in answers[0].text
    assert order.name not in answers[1].text and "grace@example.com" not in answers[1].text
    assert events(order.id, "status_page.lookup") == []


def test_unknown_order_and_wrong_email_take_about_the_same_time(db, client, make_shop, limits):
    shop = make_shop()
    order = paid_order(db, shop, number=_number(), email="hedy@example.com")
    unknown = f"#{_number()}"

    def timed(number: str) -> float:
        started = time.perf_counter()
        _lookup(client, number, "wrong@example.com")
        return time.perf_counter() - started

    for _ in range(5):  # warm up both paths
        timed(unknown), timed(order.name)
    first, second = [], []
    for _ in range(30):  # interleaved, so load from other processes hits both alike
        first.append(timed(unknown))
        second.append(timed(order.name))
    a, b = statistics.median(first), statistics.median(second)
    # Same query and the same digest work in both: medians within a few milliseconds (this is a
    # shared 2-core machine, so the bound is loose; a skipped comparison would be far below it
    # only if the paths differed by whole queries, which is what this guards against).
    assert abs(a - b) < max(0.01, 0.5 * min(a, b)), (a, b)


def test_rate_limit_per_ip_answers_429_with_retry_after(app, limits, monkeypatch):
    monkeypatch.setattr(limits, "status_lookup_per_ip", 3)
    # A visitor of its own; the limit keys on the connection's address, never on headers.
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"
    with TestClient(app, client=(address, 40000)) as visitor:
        answers = [
            visitor.post("/status/lookup", data={"order": f"#{_number()}", "email": "a@b.co"},
                         headers={"X-Forwarded-For": "203.0.113.9"})
            for _ in range(5)
        ]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and answers[4].status_code == 429
    assert 1 <= int(answers[3].headers["retry-after"]) <= limits.status_lookup_window_seconds
    monkeypatch.setattr(limits, "status_lookup_per_ip", 10_000)


def test_rate_limit_per_order_number_stops_guessing_emails(db, client, make_shop, limits, monkeypatch):
    shop = make_shop()
    order = paid_order(db, shop, number=_number(), email="guess@example.com")
    monkeypatch.setattr(limits, "status_lookup_per_order", 2)
    assert _lookup(client, order.name, "a@example.com").status_code == 200
    assert _lookup(client, order.name, "b@example.com").status_code == 200
    # Even the right email is refused now: the window is spent on this order number.
    blocked = _lookup(client, order.name, "guess@example.com")
    assert blocked.status_code == 429 and "retry-after" in blocked.headers
