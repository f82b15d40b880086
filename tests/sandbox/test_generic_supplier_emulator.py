"""The generic sandbox supplier (protocol A) through the live server: signing, no dedupe,
behaviours, lifecycle callbacks, cancellation and tracking numbers."""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.sandbox import runner
from app.sandbox.signing import check_signature, signed_headers, supplier_signature
from app.sandbox.supplier.tracking import (
    is_valid_s10,
    is_valid_ups,
    make_s10,
    make_ups,
    s10_check_digit,
    ups_check_digit,
)
from tests.sandbox.receiver import Receiver

KEY, SECRET = "sandbox-supplier-key", "sandbox-supplier-secret"


@pytest.fixture
def supplier(live_server):
    """The emulator's base URL; behaviours are shared by the whole run, so they are reset after."""
    base = f"{live_server}/sandbox/supplier"
    yield base
    httpx.post(f"{base}/_control/reset", json={}, timeout=10).raise_for_status()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def behave(base: str, **rules) -> dict:
    response = httpx.post(f"{base}/_control/behaviour", json=rules, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def order_body(callback_url: str, *, reference: str | None = None, sku: str = "DG-LSL-03") -> dict:
    return {
        "reference": reference or f"dg-{uuid.uuid4().hex[:12]}",
        "shop": "sbx-supplier.myshopify.com",
        "lines": [{"sku": sku, "title": "LED Sunset Lamp", "quantity": 2}, {"sku": None, "title": "Gift note", "quantity": 1}],
        "ship_to": {"name": "Ada Lovelace", "address1": "12 rue Victor Hugo", "address2": None, "city": "Lyon",
                    "province_code": None, "zip": "69002", "country_code": "FR", "phone": "+33612340123"},
        "callback_url": callback_url,
    }


def call(method: str, url: str, body: dict | None = None, *, timeout: float = 30, **header_overrides) -> httpx.Response:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {**signed_headers(SECRET, raw, api_key=KEY), "Content-Type": "application/json", **header_overrides}
    return httpx.request(method, url, content=raw, headers=headers, timeout=timeout)


def test_requests_must_be_signed_fresh_and_keyed(supplier, receiver):
    body = order_body(receiver.url)
    raw = json.dumps(body).encode()
    assert call("POST", f"{supplier}/orders", body, **{"X-Api-Key": "wrong"}).status_code == 401
    bad = call("POST", f"{supplier}/orders", body, **{"X-Signature": "0" * 64})
    assert bad.status_code == 401 and bad.json() == {"error": "bad X-Signature"}
    old = str(int(time.time()) - 301)
    stale = call("POST", f"{supplier}/orders", body,
                 **{"X-Timestamp": old, "X-Signature": supplier_signature(SECRET, old, raw)})
    assert stale.status_code == 401 and "300 s" in stale.json()["error"]
    unsigned = httpx.post(f"{supplier}/orders", content=raw, headers={"X-Api-Key": KEY})
    assert unsigned.status_code == 401
    assert call("GET", f"{supplier}/orders?reference={body['reference']}", **{"X-Signature": "x"}).status_code == 401
    # None of the refused requests created anything.
    control = httpx.get(f"{supplier}/_control/orders", params={"reference": body["reference"]}).json()
    assert control == {"orders": [], "count": 0}


def test_create_get_and_no_dedupe(supplier, receiver):
    behave(supplier, auto_advance=False)
    body = order_body(receiver.url)
    first = call("POST", f"{supplier}/orders", body)
    second = call("POST", f"{supplier}/orders", body)
    assert first.status_code == second.status_code == 201
    created = first.json()
    assert created["id"].startswith("SUP-") and created["status"] == "received"
    assert created["reference"] == body["reference"] and created["created_at"]
    assert first.json()["id"] != second.json()["id"]
    listed = call("GET", f"{supplier}/orders?reference={body['reference']}").json()["orders"]
    assert [o["id"] for o in listed] == [first.json()["id"], second.json()["id"]]
    one = call("GET", f"{supplier}/orders/{created['id']}").json()
    assert one["lines"] == body["lines"] and one["tracking_number"] is None and one["carrier"] is None
    assert "callback_url" not in one
    assert call("GET", f"{supplier}/orders/SUP-0").status_code == 404
    assert call("GET", f"{supplier}/orders?reference=nothing-{uuid.uuid4()}").json() == {"orders": []}
    by_shop = httpx.get(f"{supplier}/_control/orders", params={"shop": body["shop"], "reference": body["reference"]})
    assert by_shop.json()["count"] == 2


def test_invalid_bodies_and_out_of_stock(supplier, receiver):
    body = order_body(receiver.url)
    for broken in ({**body, "lines": []}, {**body, "ship_to": {"name": "x"}}, {**body, "callback_url": "ftp://x"}):
        response = call("POST", f"{supplier}/orders", broken)
        assert response.status_code == 400 and response.json()["error"]
    raw = b"{not json"
    garbage = httpx.post(f"{supplier}/orders", content=raw, headers=signed_headers(SECRET, raw, api_key=KEY))
    assert garbage.status_code == 400
    behave(supplier, out_of_stock=["DG-LSL-03"])
    refused = call("POST", f"{supplier}/orders", body)
    assert refused.status_code == 409 and refused.json() == {"error": "out_of_stock", "sku": "DG-LSL-03"}
    assert call("POST", f"{supplier}/orders", order_body(receiver.url, sku="DG-MPM-04")).status_code == 201
    assert behave(supplier, out_of_stock=[])["out_of_stock"] == []
    assert call("POST", f"{supplier}/orders", body).status_code == 201
    assert httpx.post(f"{supplier}/_control/behaviour", json={"latency": 5}).status_code == 400


def test_fail_next_answers_503_without_creating(supplier, receiver):
    body = order_body(receiver.url)
    behave(supplier, fail_next=2, auto_advance=False)
    assert call("POST", f"{supplier}/orders", body).status_code == 503
    assert call("POST", f"{supplier}/orders", body).status_code == 503
    assert call("POST", f"{supplier}/orders", body).status_code == 201
    assert len(call("GET", f"{supplier}/orders?reference={body['reference']}").json()["orders"]) == 1


def test_hang_next_creates_the_order_then_hangs(supplier, receiver):
    body = order_body(receiver.url)
    behave(supplier, hang_next=1, hang_ms=3000, auto_advance=False)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        call("POST", f"{supplier}/orders", body, timeout=0.8)
    # The order exists although the caller never saw the answer.
    control = httpx.get(f"{supplier}/_control/orders", params={"reference": body["reference"]}).json()
    assert control["count"] == 1 and control["orders"][0]["status"] == "received"
    assert time.monotonic() - started < 3
    # Only one request hangs; the lookup a careful client makes next answers at once.
    assert len(call("GET", f"{supplier}/orders?reference={body['reference']}", timeout=2).json()["orders"]) == 1


def test_latency_delays_answers(supplier, receiver):
    behave(supplier, latency_ms=400)
    started = time.monotonic()
    assert call("GET", f"{supplier}/orders?reference=x").status_code == 200
    assert time.monotonic() - started >= 0.4


def test_lifecycle_sends_signed_callbacks_with_a_valid_tracking_number(supplier, receiver):
    behave(supplier, confirm_after_s=0.2, ship_after_s=0.2)
    created = call("POST", f"{supplier}/orders", order_body(receiver.url + "/webhooks/suppliers/generic")).json()
    confirmed, shipped = receiver.wait_for(2)
    for request in (confirmed, shipped):
        assert request.path == "/webhooks/suppliers/generic"
        assert request.header("X-Api-Key") is None
        assert check_signature(SECRET, request.header("X-Timestamp"), request.header("X-Signature"), request.body) is None
    first, second = json.loads(confirmed.body), json.loads(shipped.body)
    assert first["type"] == "order.confirmed" and second["type"] == "order.shipped"
    assert first["event_id"] != second["event_id"] and uuid.UUID(first["event_id"])
    assert first["order"]["id"] == created["id"] and first["order"]["confirmed_at"]
    order = second["order"]
    assert order["status"] == "shipped" and order["shipped_at"] and order["carrier"] in ("China Post", "UPS")
    assert is_valid_s10(order["tracking_number"]) or is_valid_ups(order["tracking_number"])
    assert order["tracking_number"] in order["tracking_url"]
    assert call("GET", f"{supplier}/orders/{created['id']}").json()["tracking_number"] == order["tracking_number"]
    cancel = call("POST", f"{supplier}/orders/{created['id']}/cancel")
    assert cancel.status_code == 409


def test_manual_advance_and_cancel(supplier, receiver):
    behave(supplier, auto_advance=False)
    created = call("POST", f"{supplier}/orders", order_body(receiver.url)).json()
    advanced = httpx.post(f"{supplier}/_control/orders/{created['id']}/advance", timeout=10)
    assert advanced.status_code == 200 and advanced.json()["status"] == "confirmed"
    # The control endpoint answers after the callback's first attempt.
    assert json.loads(receiver.requests[0].body)["type"] == "order.confirmed"
    cancelled = call("POST", f"{supplier}/orders/{created['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert call("POST", f"{supplier}/orders/{created['id']}/cancel").json()["status"] == "cancelled"
    assert json.loads(receiver.wait_for(2)[1].body)["type"] == "order.cancelled"
    nothing = httpx.post(f"{supplier}/_control/orders/{created['id']}/advance", timeout=10)
    assert nothing.status_code == 409
    assert httpx.post(f"{supplier}/_control/orders/SUP-0/advance").status_code == 404
    time.sleep(0.3)
    assert len(receiver.requests) == 2  # one callback per transition, none for the repeated cancel


def test_failed_callbacks_are_retried_with_the_same_event(supplier, receiver):
    behave(supplier, auto_advance=False)
    receiver.fail_with = [500, 503]
    created = call("POST", f"{supplier}/orders", order_body(receiver.url)).json()
    httpx.post(f"{supplier}/_control/orders/{created['id']}/advance", timeout=10).raise_for_status()
    attempts = receiver.wait_for(3, timeout=10)
    assert len({json.loads(a.body)["event_id"] for a in attempts}) == 1
    assert all(check_signature(SECRET, a.header("X-Timestamp"), a.header("X-Signature"), a.body) is None
               for a in attempts)


def test_twenty_concurrent_creates(supplier, receiver):
    behave(supplier, auto_advance=False)
    reference = f"dg-{uuid.uuid4().hex[:12]}"
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(
            lambda _: call("POST", f"{supplier}/orders", order_body(receiver.url, reference=reference)), range(20)
        ))
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.json()["id"] for r in responses}) == 20
    assert httpx.get(f"{supplier}/_control/orders", params={"reference": reference}).json()["count"] == 20


def test_a_job_left_in_redis_runs_in_another_process(live_server, receiver):
    """Background work lives in Redis: a job scheduled here (as if by a process that died) is run
    by the live server's runner."""
    body = json.dumps({"hello": "world"})
    runner.schedule("http", {"url": receiver.url + "/left-behind", "body": body,
                             "headers": {"Content-Type": "application/json"}, "signer": "supplier",
                             "label": "test", "attempt": 0, "backoff": []})
    (request,) = receiver.wait_for(1)
    assert request.path == "/left-behind" and request.body == body.encode()


def test_tracking_numbers_have_valid_check_digits():
    assert s10_check_digit("47312482") == 9 and is_valid_s10("RA473124829GB")
    assert not is_valid_s10("RA473124828GB") and not is_valid_s10("RA47312482GB")
    assert ups_check_digit("999AA1012345678") == 4 and is_valid_ups("1Z999AA10123456784")
    assert not is_valid_ups("1Z999AA10123456785")
    rng = random.Random(7)
    for _ in range(500):
        s10, ups = make_s10(rng), make_ups(rng)
        assert is_valid_s10(s10) and s10.endswith("CN") and len(s10) == 13
        assert is_valid_ups(ups) and len(ups) == 18
        # A single changed digit is always caught.
        digit = s10[5]
        assert not is_valid_s10(s10[:5] + str((int(digit) + 1) % 10) + s10[6:])
