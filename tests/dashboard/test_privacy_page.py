"""The privacy page: requests with their status (held ones explained) and the export download."""

from __future__ import annotations

import json
import re
import time
import uuid

import jwt
import pytest
from sqlalchemy import select

from app.privacy.models import PrivacyRequest
from tests.factories import API_KEY, API_SECRET, session_token
from tests.privacy.helpers import data_request_payload, deliver, new_person, redact_payload, spread

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture
def exported(db, shop):
    person = new_person()
    order = spread(db, shop, person)
    deliver(shop, "customers/data_request", data_request_payload(shop, person))
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.shop_id == shop.id))
    return person, order, request


def test_lists_requests_and_explains_a_held_erasure(client, db, shop, exported):
    person, order, data_request = exported
    deliver(shop, "disputes/create", {"id": 31, "order_id": order.external_id, "status": "needs_response"})
    deliver(shop, "customers/redact", redact_payload(shop, person))

    response = client.get(f"/admin/privacy?id_token={session_token(shop.domain)}")

    assert response.status_code == 200, response.text
    html = response.text
    assert "1 erasure request is waiting for a dispute to close" in html
    rows = dict(re.findall(r'data-request-id="(\d+)" data-kind="(\w+)"', html))
    assert rows[str(data_request.id)] == "customer_data_request" and "customer_redact" in rows.values()
    assert f"/admin/privacy/exports/{data_request.id}?id_token=" in html
    assert "held while dispute 31 (needs response) is open" in html
    assert person.email not in html, "the page itself shows no personal data"


def test_export_downloads_as_a_json_attachment(client, shop, exported):
    person, _, data_request = exported
    response = client.get(
        f"/admin/privacy/exports/{data_request.id}",
        headers={"Authorization": f"Bearer {session_token(shop.domain)}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="customer-data-request-{data_request.id}.json"'
    )
    body = json.loads(response.content)
    assert body["customers"][0]["email"] == person.email


def test_an_expired_or_erased_export_is_gone(client, db, shop, exported):
    _, _, data_request = exported
    data_request.export, data_request.reason = None, "export expired"
    db.merge(data_request)
    db.commit()
    response = client.get(f"/admin/privacy/exports/{data_request.id}?id_token={session_token(shop.domain)}")
    assert response.status_code == 410 and response.json()["detail"] == "export expired"


def test_missing_export_is_not_found(client, shop):
    assert (
        client.get(f"/admin/privacy/exports/{2**62}?id_token={session_token(shop.domain)}").status_code == 404
    )


def _bad(case: str, domain: str) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{domain}/admin",
        "dest": f"https://{domain}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
    }
    if case == "expired":
        claims.update(exp=now - 60, nbf=now - 120, iat=now - 120)
    elif case == "not_yet_valid":
        claims.update(nbf=now + 60, exp=now + 120)
    elif case == "wrong_audience":
        claims.update(aud="another-apps-key")
    elif case == "cross_shop":
        claims.update(iss=f"https://other-{uuid.uuid4().hex[:6]}.myshopify.com/admin")
    if case == "alg_none":
        return jwt.encode(claims, None, algorithm="none")
    return jwt.encode(
        claims, "not-the-app-secret" if case == "wrong_signature" else API_SECRET, algorithm="HS256"
    )


BAD_TOKENS = ["expired", "not_yet_valid", "wrong_audience", "wrong_signature", "alg_none", "cross_shop"]


@pytest.mark.parametrize("case", BAD_TOKENS)
@pytest.mark.parametrize(
    "route", ["GET /admin/settings", "POST /admin/settings", "GET /admin/privacy", "GET export"]
)
def test_session_token_matrix_on_the_new_routes(client, db, shop, exported, case, route):
    token = _bad(case, shop.domain)
    if route == "POST /admin/settings":
        response = client.post("/admin/settings", data={"id_token": token, "return_window_days": "44"})
    else:
        path = {"GET export": f"/admin/privacy/exports/{exported[2].id}"}.get(route, route.split()[1])
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert client.get(f"{path}?id_token={token}").status_code == 401
    assert response.status_code == 401, response.text
    assert exported[0].email not in response.text
    db.expire_all()
    assert "policies" not in (db.get(type(shop), shop.id).settings or {})
