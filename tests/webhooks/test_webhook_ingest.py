"""POST /webhooks/shopify: signature, dedupe, fallbacks and every kind of bad input.

Orders posted here are unpaid, so that a session-wide worker picking them up has little to do.

The invariant under test: an answer is only 2xx once the delivery, its evidence and its outbox row
are committed together; anything refused leaves no trace but a counter and a log line.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from app.webhooks.tasks import process_delivery
from tests.factories import order_payload
from tests.webhooks.helpers import (
    deliveries,
    evidence,
    max_outbox_id,
    outbox_for_deliveries,
    signed,
    stray_webhook_outbox,
    webhook_counter,
)

URL = "/webhooks/shopify"


def assert_nothing_stored(db, domain: str, outbox_before: int) -> None:
    assert deliveries(db, domain) == []
    assert evidence(db, domain, "webhook.received") == []
    assert stray_webhook_outbox(db, outbox_before, domain) == []


def _tamper(body: bytes) -> bytes:
    # One byte changed inside the JSON, so that only the signature can notice.
    index = body.index(b"Lovelace")
    return body[:index] + b"l" + body[index + 1 :]


@pytest.mark.parametrize(
    "case",
    ["missing_header", "wrong_secret", "body_changed", "empty_header", "garbage_header"],
)
def test_bad_signature_is_refused_and_nothing_is_stored(client, db, shop, case):
    body, headers = signed(order_payload(financial_status="pending"), shop.domain, "orders/create")
    if case == "missing_header":
        del headers["X-Shopify-Hmac-Sha256"]
    elif case == "wrong_secret":
        body, headers = signed(body, shop.domain, "orders/create", secret="not-the-app-secret")
    elif case == "body_changed":
        body = _tamper(body)
    elif case == "empty_header":
        headers["X-Shopify-Hmac-Sha256"] = ""
    elif case == "garbage_header":
        headers["X-Shopify-Hmac-Sha256"] = "not base64 at all \xe9".encode("latin-1")  # type: ignore[assignment]
    before_count = webhook_counter(client.get("/metrics").text, topic="orders/create", outcome="bad_signature")
    outbox_before = max_outbox_id(db)

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "bad_signature"
    assert_nothing_stored(db, shop.domain, outbox_before)
    after_count = webhook_counter(client.get("/metrics").text, topic="orders/create", outcome="bad_signature")
    assert after_count == before_count + 1


def test_valid_signature_records_delivery_evidence_and_outbox_together(client, db, shop):
    payload = order_payload(financial_status="pending")
    body, headers = signed(payload, shop.domain, "orders/create")

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "queued"
    [delivery] = deliveries(db, shop.domain)
    assert delivery.id == response.json()["delivery_id"]
    assert delivery.shop_id == shop.id
    assert delivery.event_id == headers["X-Shopify-Event-Id"]
    assert delivery.webhook_id == headers["X-Shopify-Webhook-Id"]
    assert delivery.payload == payload
    [received] = evidence(db, shop.domain, "webhook.received")
    assert received.webhook_delivery_id == delivery.id
    assert received.data["hmac"] == "verified"
    assert received.personal is None  # the raw payload (emails, addresses) stays out of the ledger
    assert "ada@example.com" not in json.dumps(received.data)
    [work] = outbox_for_deliveries(db, [delivery.id])
    assert work.queue == "ingest"


def test_same_event_twice_is_recorded_once(client, db, shop):
    payload = order_payload(financial_status="pending")
    event_id = str(uuid.uuid4())
    body, headers = signed(payload, shop.domain, "orders/create", event_id=event_id)
    first = client.post(URL, content=body, headers=headers)
    # Shopify's retry carries the same event id but a fresh webhook id and timestamp.
    body, headers = signed(payload, shop.domain, "orders/create", event_id=event_id)
    again = client.post(URL, content=body, headers=headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "queued"
    assert again.json() == {"status": "duplicate", "delivery_id": None}
    [delivery] = deliveries(db, shop.domain)
    assert len(evidence(db, shop.domain, "webhook.received")) == 1
    assert len(outbox_for_deliveries(db, [delivery.id])) == 1


def test_same_event_id_for_two_shops_is_two_deliveries(client, db, make_shop):
    first_shop, second_shop = make_shop(), make_shop()
    event_id = str(uuid.uuid4())
    for shop in (first_shop, second_shop):
        body, headers = signed(order_payload(financial_status="pending"), shop.domain, "orders/create", event_id=event_id)
        assert client.post(URL, content=body, headers=headers).json()["status"] == "queued"
    assert len(deliveries(db, first_shop.domain)) == len(deliveries(db, second_shop.domain)) == 1


def test_missing_event_id_falls_back_to_webhook_id(client, db, shop):
    body, headers = signed(order_payload(financial_status="pending"), shop.domain, "orders/create")
    del headers["X-Shopify-Event-Id"]
    webhook_id = headers["X-Shopify-Webhook-Id"]

    first = client.post(URL, content=body, headers=headers)
    again = client.post(URL, content=body, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "queued"
    assert again.json()["status"] == "duplicate"
    [delivery] = deliveries(db, shop.domain)
    assert delivery.event_id == webhook_id


def test_missing_both_ids_is_refused(client, db, shop):
    body, headers = signed(order_payload(financial_status="pending"), shop.domain, "orders/create")
    del headers["X-Shopify-Event-Id"], headers["X-Shopify-Webhook-Id"]
    outbox_before = max_outbox_id(db)
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 400
    assert "X-Shopify-Event-Id" in response.json()["detail"]
    assert_nothing_stored(db, shop.domain, outbox_before)


def _bad_request(kind: str, domain: str) -> tuple[bytes, dict[str, str]]:
    payload = order_payload(financial_status="pending")
    if kind == "malformed_json":
        return signed(b'{"id": 1, "name": ', domain, "orders/create")
    if kind == "json_array":
        return signed(b"[1, 2, 3]", domain, "orders/create")
    if kind == "json_scalar":
        return signed(b'"just a string"', domain, "orders/create")
    if kind == "nul_escape":
        return signed(b'{"id": 1, "note": "a\\u0000b"}', domain, "orders/create")
    if kind == "nul_in_key":
        return signed(b'{"a\\u0000": 1}', domain, "orders/create")
    if kind == "raw_nul_byte":
        return signed(b'{"id": 1, "note": "a\x00b"}', domain, "orders/create")
    if kind == "lone_surrogate":
        return signed(b'{"id": 1, "note": "\\ud800"}', domain, "orders/create")
    if kind == "not_utf8":
        return signed(b'{"id": 1, "note": "\xff\xfe"}', domain, "orders/create")
    if kind == "utf16":
        return signed('{"id": 1}'.encode("utf-16"), domain, "orders/create")
    if kind == "encoded_surrogate":
        return signed(b'{"id": 1, "note": "\xed\xa0\x80"}', domain, "orders/create")
    if kind == "nan":
        return signed(b'{"id": 1, "total_price": NaN}', domain, "orders/create")
    if kind == "infinity":
        return signed(b'{"id": 1, "total_price": -Infinity}', domain, "orders/create")
    if kind == "deep_nesting":
        return signed(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", domain, "orders/create")
    if kind == "empty_body":
        return signed(b"", domain, "orders/create")
    if kind == "wrong_content_type":
        return signed(payload, domain, "orders/create", content_type="text/plain")
    if kind == "form_content_type":
        return signed(payload, domain, "orders/create", content_type="application/x-www-form-urlencoded")
    body, headers = signed(payload, domain, "orders/create")
    if kind == "missing_topic":
        del headers["X-Shopify-Topic"]
    elif kind == "empty_topic":
        headers["X-Shopify-Topic"] = " "
    elif kind == "missing_shop":
        del headers["X-Shopify-Shop-Domain"]
    elif kind == "non_myshopify_domain":
        headers["X-Shopify-Shop-Domain"] = "evil.example.com"
    elif kind == "lookalike_domain":
        headers["X-Shopify-Shop-Domain"] = domain + ".evil.com"
    elif kind == "long_topic":
        headers["X-Shopify-Topic"] = "orders/" + "x" * 200
    elif kind == "long_event_id":
        headers["X-Shopify-Event-Id"] = "e" * 300
    elif kind == "long_webhook_id":
        headers["X-Shopify-Webhook-Id"] = "w" * 300
    elif kind == "long_api_version":
        headers["X-Shopify-API-Version"] = "2026-07" * 10
    else:
        raise AssertionError(kind)
    return body, headers


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("malformed_json", 400),
        ("json_array", 400),
        ("json_scalar", 400),
        ("nul_escape", 400),
        ("nul_in_key", 400),
        ("raw_nul_byte", 400),
        ("lone_surrogate", 400),
        ("not_utf8", 400),
        ("utf16", 400),
        ("encoded_surrogate", 400),
        ("nan", 400),
        ("infinity", 400),
        ("deep_nesting", 400),
        ("empty_body", 400),
        ("wrong_content_type", 415),
        ("form_content_type", 415),
        ("missing_topic", 400),
        ("empty_topic", 400),
        ("missing_shop", 400),
        ("non_myshopify_domain", 400),
        ("lookalike_domain", 400),
        ("long_topic", 400),
        ("long_event_id", 400),
        ("long_webhook_id", 400),
        ("long_api_version", 400),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_nothing_stored(client, db, shop, kind, status):
    body, headers = _bad_request(kind, shop.domain)
    outbox_before = max_outbox_id(db)

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert_nothing_stored(db, shop.domain, outbox_before)
    # The server keeps serving: the next valid delivery goes through.
    body, headers = signed(order_payload(financial_status="pending"), shop.domain, "orders/create")
    assert client.post(URL, content=body, headers=headers).json()["status"] == "queued"


def test_escaped_backslash_before_u0000_is_not_a_nul(client, db, shop):
    # JSON "C:\\u0000" is the text C:\u0000 (a backslash, not a NUL): storable, must not be refused.
    body, headers = signed(b'{"id": 1, "note": "C:\\\\u0000"}', shop.domain, "orders/create")
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    [delivery] = deliveries(db, shop.domain)
    assert delivery.payload["note"] == "C:\\u0000"


@pytest.mark.parametrize("value", ["yesterday", "0001-01-01T00:00:00+05:00", "2026-11-26T10:00:00"])
def test_unusable_triggered_at_still_records(client, db, shop, value):
    body, headers = signed(order_payload(financial_status="pending"), shop.domain, "orders/create")
    headers["X-Shopify-Triggered-At"] = value
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    [delivery] = deliveries(db, shop.domain)
    assert delivery.triggered_at is None
    assert len(evidence(db, shop.domain, "webhook.received")) == 1


def test_unknown_topic_is_stored_but_not_processed(client, db, shop):
    body, headers = signed({"id": 5, "title": "A product"}, shop.domain, "products/update")
    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "stored"
    [delivery] = deliveries(db, shop.domain)
    assert delivery.status == "stored"
    assert outbox_for_deliveries(db, [delivery.id]) == []
    assert len(evidence(db, shop.domain, "webhook.received")) == 1
    # Even if something publishes it by mistake, the task leaves it alone.
    assert process_delivery.run(delivery.id) == "skipped"
    [delivery] = deliveries(db, shop.domain)
    assert (delivery.status, delivery.processed_at) == ("stored", None)


def test_unknown_shop_is_recorded_but_not_processed(client, db):
    domain = f"stranger-{uuid.uuid4().hex[:10]}.myshopify.com"
    body, headers = signed(order_payload(financial_status="pending"), domain, "orders/create")
    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "unknown_shop"
    [delivery] = deliveries(db, domain)
    assert (delivery.status, delivery.shop_id) == ("unknown_shop", None)
    assert outbox_for_deliveries(db, [delivery.id]) == []
    assert process_delivery.run(delivery.id) == "skipped"
    [delivery] = deliveries(db, domain)
    assert (delivery.status, delivery.processed_at) == ("unknown_shop", None)


def test_ten_mebibyte_body_is_refused_and_the_server_keeps_serving(live_server, db, shop):
    body = b'{"id": 1, "note": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    _, headers = signed(body, shop.domain, "orders/create")

    def chunks():
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    with httpx.Client(base_url=live_server, timeout=30) as http:
        declared = http.post(URL, content=body, headers=headers)
        streamed = http.post(URL, content=chunks(), headers=headers)  # chunked: no Content-Length
        body_ok, headers_ok = signed(order_payload(financial_status="pending"), shop.domain, "orders/create")
        after = http.post(URL, content=body_ok, headers=headers_ok)

    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, streamed.text
    assert declared.json()["error"] == "too_large"
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "queued"
    assert [d.event_id for d in deliveries(db, shop.domain)] == [headers_ok["X-Shopify-Event-Id"]]
