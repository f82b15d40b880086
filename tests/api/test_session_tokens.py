"""Shopify session tokens: every way a token can be wrong is a 401; a valid one reads the order."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from app.orders.service import apply_snapshot
from app.shops.service import uninstall
from tests.factories import API_KEY, API_SECRET, order_payload, session_token

# The test app secret is short on purpose (it is not a real secret); PyJWT warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture
def order(db, shop):
    placed, _ = apply_snapshot(db, shop, "orders/create", order_payload(number=4242, financial_status="pending"))
    db.commit()
    return placed


def _claims(shop_domain: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _get(client, token: str, name: str = "#4242"):
    return client.get("/api/orders", params={"name": name}, headers={"Authorization": f"Bearer {token}"})


def test_valid_token_reads_the_order_and_its_timeline(client, shop, order):
    response = _get(client, session_token(shop.domain))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["name"], body["status"]) == (order.id, "#4242", "open")
    assert [line["quantity"] for line in body["lines"]] == [1]
    [applied] = body["timeline"]
    assert applied["kind"] == "order.snapshot_applied"
    assert len(applied["hash"]) == 64
    # The same token as an App Bridge navigation parameter.
    assert client.get("/api/orders", params={"name": "#4242", "id_token": session_token(shop.domain)}).status_code == 200


def test_token_within_clock_leeway_is_accepted(client, shop, order):
    now = int(time.time())
    token = jwt.encode(_claims(shop.domain, exp=now - 3, nbf=now + 3), API_SECRET, algorithm="HS256")
    assert _get(client, token).status_code == 200


def _bad_token(case: str, domain: str) -> str:
    now = int(time.time())
    if case == "expired":
        return jwt.encode(_claims(domain, exp=now - 60, iat=now - 120, nbf=now - 120), API_SECRET, algorithm="HS256")
    if case == "not_yet_valid":
        return jwt.encode(_claims(domain, nbf=now + 60, exp=now + 120), API_SECRET, algorithm="HS256")
    if case == "wrong_audience":
        return jwt.encode(_claims(domain, aud="another-apps-key"), API_SECRET, algorithm="HS256")
    if case == "wrong_signature":
        return jwt.encode(_claims(domain), "not-the-app-secret", algorithm="HS256")
    if case == "alg_none":
        return jwt.encode(_claims(domain), None, algorithm="none")
    if case == "alg_hs512":
        return jwt.encode(_claims(domain), API_SECRET, algorithm="HS512")
    if case == "missing_dest":
        return jwt.encode(_claims(domain, dest=None), API_SECRET, algorithm="HS256")
    if case == "missing_iss":
        return jwt.encode(_claims(domain, iss=None), API_SECRET, algorithm="HS256")
    if case == "missing_exp":
        return jwt.encode(_claims(domain, exp=None), API_SECRET, algorithm="HS256")
    if case == "missing_aud":
        return jwt.encode(_claims(domain, aud=None), API_SECRET, algorithm="HS256")
    if case == "iss_dest_mismatch":
        return jwt.encode(_claims(domain, iss="https://other-shop.myshopify.com/admin"), API_SECRET, algorithm="HS256")
    if case == "dest_not_myshopify":
        return jwt.encode(
            _claims(domain, iss="https://evil.example.com/admin", dest="https://evil.example.com"),
            API_SECRET,
            algorithm="HS256",
        )
    if case == "dest_not_a_url":
        return jwt.encode(_claims(domain, iss=domain, dest=domain), API_SECRET, algorithm="HS256")
    if case == "garbage":
        return "not.a.jwt"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_signature",
        "alg_none",
        "alg_hs512",
        "missing_dest",
        "missing_iss",
        "missing_exp",
        "missing_aud",
        "iss_dest_mismatch",
        "dest_not_myshopify",
        "dest_not_a_url",
        "garbage",
    ],
)
def test_bad_token_is_refused(client, shop, order, case):
    response = _get(client, _bad_token(case, shop.domain))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert "#4242" not in response.text


def test_token_of_an_uninstalled_shop_is_refused(client, db, shop, order):
    token = session_token(shop.domain)
    assert _get(client, token).status_code == 200
    uninstall(db, shop)
    db.commit()
    response = _get(client, token)
    assert response.status_code == 401
    assert "has not installed" in response.json()["detail"]


def test_token_of_a_shop_that_never_installed_is_refused(client, order):
    response = _get(client, session_token(f"never-{uuid.uuid4().hex[:8]}.myshopify.com"))
    assert response.status_code == 401
