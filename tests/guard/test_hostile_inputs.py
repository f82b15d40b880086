"""The hostile inputs that once got a 500 (issue 13), one test each: now a 4xx with a reason.

Each body is signed as its sender would sign it, so the refusal comes from the input guard behind
the signature, not from the signature check."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from app.config import get_settings
from app.status.tokens import token_for
from tests.factories import session_token
from tests.guard.signing import after_ship, cj, generic_supplier, seventeen, shopify
from tests.notifications.helpers import paid_order
from tests.suppliers.helpers import callback_body
from tests.tracking.helpers import aftership_webhook, fresh_number, journey, seventeentrack_webhook

NUL = "\x00"


def _with(body: bytes, fragment: str) -> bytes:
    """The JSON object `body` with one more member spelled as raw JSON text."""
    return body.rstrip()[:-1] + b', "guard_probe": ' + fragment.encode() + b"}"


def _refused(response, status: int = 400, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["detail"], "a refusal says why"
    if error:
        assert answer["error"] == error
    return answer


def _cj_order(**params) -> bytes:
    envelope = {"messageId": uuid.uuid4().hex, "type": "ORDER", "messageType": "UPDATE",
                "openId": int(get_settings().cj_open_id),
                "params": {"cjOrderId": "2600000000999999", "orderNumber": f"dg-{uuid.uuid4().hex[:8]}",
                           "orderStatus": "UNSHIPPED", **params}}
    return json.dumps(envelope).encode()


# --- 1e999 behind a valid signature -------------------------------------------------------------


def test_infinite_number_on_the_generic_supplier_route(client):
    body = _with(json.dumps(callback_body(f"dg-{uuid.uuid4().hex[:8]}")).encode(), "1e999")
    answer = _refused(client.post("/webhooks/suppliers/generic", content=body, headers=generic_supplier(body)),
                      error="bad_json")
    assert "out of range" in answer["detail"]


def test_infinite_number_on_the_cj_route(client):
    body = _with(_cj_order(), "1e999")
    _refused(client.post("/webhooks/suppliers/cj", content=body, headers=cj(body)), error="bad_json")


def test_infinite_number_on_the_17track_route(client):
    body, _ = seventeentrack_webhook(fresh_number(), journey(datetime.now(UTC), ["info_received"]))
    body = _with(body, "-1e999")
    _refused(client.post("/webhooks/carriers/17track", content=body, headers=seventeen(body)), error="bad_json")


def test_infinite_number_on_the_aftership_route(client):
    body, _ = aftership_webhook(fresh_number(), journey(datetime.now(UTC), ["info_received"]))
    body = _with(body, "1E+999")
    _refused(client.post("/webhooks/carriers/aftership", content=body, headers=after_ship(body)), error="bad_json")


# --- CJ nested 10,000 deep ----------------------------------------------------------------------


def test_cj_body_nested_ten_thousand_deep_unsigned_is_401_unparsed(client):
    body = b'{"openId": "1", "params": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    _refused(client.post("/webhooks/suppliers/cj", content=body, headers={"Content-Type": "application/json",
                                                                          "sign": "forged"}),
             401, "bad_signature")


def test_cj_body_nested_ten_thousand_deep_signed_is_400(client):
    body = _with(_cj_order(), "[" * 10_000 + "]" * 10_000)
    answer = _refused(client.post("/webhooks/suppliers/cj", content=body, headers=cj(body)), error="bad_json")
    assert "deeper than 64" in answer["detail"]


# --- NUL in what merchants and customers type ---------------------------------------------------


def test_nul_in_the_orders_api_name(client, shop):
    response = client.get("/api/orders", params={"name": f"#10{NUL}42"},
                          headers={"Authorization": f"Bearer {session_token(shop.domain)}"})
    answer = _refused(response, error="bad_text")
    assert "NUL" in answer["detail"]


def test_nul_in_the_status_lookups_shop(client):
    response = client.post("/status/lookup", data={"order": "#1001", "email": "a@b.co", "shop": f"x{NUL}.myshopify.com"},
                           follow_redirects=False)
    _refused(response, error="bad_text")


def test_nul_in_a_claim_message(client, db, shop):
    order = paid_order(db, shop)
    response = client.post(f"/status/{token_for(order)}/problem", data={"reason": "damaged", "message": f"bro{NUL}ken"},
                           files=[("photos", ("a.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"))],
                           follow_redirects=False)
    _refused(response, error="bad_text")


def test_nul_in_a_notification_template_subject(client, shop):
    form = {"id_token": session_token(shop.domain), "stage": "shipped", "locale": "fr",
            "subject": f"Votre colis{NUL}", "body": "Bonjour"}
    _refused(client.post("/admin/notifications/templates", data=form, follow_redirects=False), error="bad_text")


def test_nul_in_the_refund_policy_setting(client, shop):
    form = {"id_token": session_token(shop.domain), "refund_policy": f"Reship{NUL} or refund",
            "return_policy": "r", "refund_window_days": "30", "return_window_days": "30", "languages": ["en"]}
    _refused(client.post("/admin/settings", data=form, follow_redirects=False), error="bad_text")


# --- the rest of the guard: every signed JSON route, every kind of refusal ----------------------


@pytest.mark.parametrize(
    ("fragment", "reason"),
    [
        ("1e999", "out of range"),
        ("NaN", "not JSON"),
        ("-Infinity", "not JSON"),
        ('"a\\u0000b"', "NUL"),
        ('"\\ud800"', "surrogate"),
        ("[" * 65 + "]" * 65, "deeper than 64"),
        ("1" + "0" * 5000, "not valid JSON"),
    ],
)
def test_every_refusal_on_the_store_route(client, fragment, reason):
    body = _with(json.dumps({"id": 1, "name": "#1"}).encode(), fragment)
    answer = _refused(client.post("/webhooks/shopify", content=body, headers=shopify(body)), error="bad_json")
    assert reason in answer["detail"]


def test_invalid_utf8_and_encoded_surrogate_bodies_are_refused(client):
    for body in (b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', '{"a": 1}'.encode("utf-16")):
        _refused(client.post("/webhooks/suppliers/cj", content=body, headers=cj(body)), error="bad_json")


def test_depth_64_is_accepted_by_the_parse(client):
    from app.input_guard import parse_json

    assert parse_json("[" * 64 + "]" * 64) == parse_json("[" * 64 + "]" * 64)
    with pytest.raises(Exception, match="deeper than 64"):
        parse_json("[" * 65 + "]" * 65)


@pytest.mark.parametrize("path", ["/webhooks/suppliers/generic", "/webhooks/suppliers/cj",
                                  "/webhooks/carriers/17track", "/webhooks/carriers/aftership", "/webhooks/alerts"])
def test_supplier_and_carrier_routes_check_the_content_type(client, path):
    from tests.guard.signing import SIGNED_JSON_ROUTES

    body = _cj_order() if path.endswith("cj") else json.dumps(callback_body("dg-ct")).encode()
    headers = {**SIGNED_JSON_ROUTES[path](body), "Content-Type": "text/plain"}
    _refused(client.post(path, content=body, headers=headers), 415, "bad_content_type")


def test_cj_body_naming_another_account_than_its_signature_is_401(client, db):
    from app.suppliers.protocols.cj_webhooks import webhook_signature

    body = _cj_order()
    signed_by_us = webhook_signature(body, str(get_settings().cj_open_id))
    other = body.replace(str(get_settings().cj_open_id).encode(), b"4242")
    assert client.post("/webhooks/suppliers/cj", content=other,
                       headers={"sign": signed_by_us, "Content-Type": "application/json"}).status_code == 401


def test_invalid_utf8_in_query_and_form(client):
    _refused(client.get("/status?shop=%ff"), error="bad_encoding")
    _refused(client.post("/status/lookup", content=b"order=%ED%A0%80", follow_redirects=False,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}), error="bad_encoding")


def test_unsigned_json_api_bodies_are_guarded(client, shop):
    # A JSON body on an unsigned route: refused before FastAPI's own parse could fail on it.
    for fragment in ("1e999", "[" * 10_000 + "]" * 10_000, '"\\u0000"'):
        body = _with(b'{"a": 1}', fragment)
        response = client.post("/api/nothing-here", content=body, headers={"Content-Type": "application/json"})
        _refused(response, error="bad_json")


def test_nul_in_inbound_mail_after_its_signature(client):
    from tests.guard.signing import mailgun_fields

    fields = mailgun_fields(recipient="x@in.example", sender="a@b.co", subject=f"Hi{NUL}", **{"body-plain": "x"})
    _refused(client.post("/webhooks/mail/mailgun", data=fields), error="bad_text")
    unsigned = {**fields, "signature": "0" * 64}
    assert client.post("/webhooks/mail/mailgun", data=unsigned).status_code == 401
