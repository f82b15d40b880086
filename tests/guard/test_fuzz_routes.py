"""Hypothesis against every route: hostile text in every path, query and form parameter (with a
valid session token), hostile JSON in every signed webhook (with a valid signature). Whatever
comes in, the answer is below 500."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from app.config import get_settings
from tests.alerts.helpers import alert_body
from tests.factories import order_payload, session_token
from tests.guard.routes import endpoints
from tests.guard.signing import SIGNED_JSON_ROUTES, mailgun_fields
from tests.guard.strategies import PROFILE, hostile_json_body, hostile_text, unique_ip
from tests.suppliers.helpers import callback_body
from tests.tracking.helpers import aftership_webhook, fresh_number, journey, seventeentrack_webhook
from tests.webhooks.helpers import max_outbox_id, retire_outbox_after


def _app():
    from app.main import create_app

    return create_app(start_relay=False)


def fuzzed(endpoint) -> bool:
    # The sandbox's state-changing routes are left out: its emulators' state is shared by the
    # whole run (a fuzzed "fail every order" would break later modules). Their GETs are in, and
    # the route walk sends every one of them a NUL.
    return not (endpoint.path.startswith("/sandbox") and endpoint.method != "GET")


ENDPOINTS = [e for e in endpoints(_app()) if fuzzed(e)]


def _templates() -> dict[str, dict]:
    cj = {"messageId": uuid.uuid4().hex, "type": "LOGISTIC", "messageType": "UPDATE",
          "openId": int(get_settings().cj_open_id),
          "params": {"orderId": "2600000000999999", "trackingNumber": fresh_number(), "logisticName": "YunExpress",
                     "trackingStatus": 1, "logisticsTrackEvents": "[]", "storeOrderNumbers": ["dg-1-1-aa"]}}
    steps = journey(datetime.now(UTC), ["info_received"])
    return {
        "/webhooks/shopify": order_payload(),
        "/webhooks/suppliers/generic": callback_body(f"dg-fuzz-{uuid.uuid4().hex[:6]}"),
        "/webhooks/suppliers/cj": cj,
        "/webhooks/carriers/17track": json.loads(seventeentrack_webhook(fresh_number(), steps)[0]),
        "/webhooks/carriers/aftership": json.loads(aftership_webhook(fresh_number(), steps)[0]),
        "/webhooks/alerts": alert_body("guard-test.myshopify.com"),
    }


@pytest.fixture(scope="module")
def fuzz(app):
    from app.db import get_sessionmaker
    from app.shops.service import add_shop

    with get_sessionmaker()() as session:
        shop = add_shop(session, domain=f"fuzz-{uuid.uuid4().hex[:10]}.myshopify.com", access_token="shpat_fuzz")
        session.commit()
    before = max_outbox_id_now()
    with TestClient(app, client=unique_ip()) as client:
        yield client, session_token(shop.domain), _templates()
    # What the fuzzers recorded is evidence of nothing: keep later modules' workers off it.
    retire_outbox_after(before)


def max_outbox_id_now() -> int:
    from app.db import get_sessionmaker

    with get_sessionmaker()() as session:
        return max_outbox_id(session)


def _check(response, endpoint, what) -> None:
    assert response.status_code < 500, f"{endpoint.method} {endpoint.path} with {what!r}: {response.text[:300]}"


def _url(endpoint, values: dict[str, str]) -> str:
    return endpoint.url({name: quote(value.encode("utf-8", "surrogatepass"), safe="") for name, value in values.items()})


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_hostile_parameters(fuzz, endpoint):
    client, token, templates = fuzz
    names = (*endpoint.path_params, *endpoint.query, *endpoint.form)
    values = st.fixed_dictionaries({name: hostile_text for name in names})

    @PROFILE
    @given(values=values, raw_query=st.booleans())
    def run(values, raw_query):
        path_values = {n: values[n] for n in endpoint.path_params}
        query = {n: values[n] for n in endpoint.query}
        form = {n: values[n] for n in endpoint.form}
        encoded_query = "&".join(
            f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in query.items())
        url = _url(endpoint, path_values) + (f"?{encoded_query}" if encoded_query else "")
        headers = {"Authorization": f"Bearer {token}"}
        if endpoint.method == "GET" or endpoint.signed:
            response = client.request(endpoint.method, url, headers=headers, follow_redirects=False)
        else:
            body = "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                            for k, v in {"id_token": token, **form}.items())
            response = client.request(endpoint.method, url, content=body, follow_redirects=False,
                                      headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
        _check(response, endpoint, values)

    run()


SIGNED = [e for e in ENDPOINTS if e.signed and e.method == "POST"]


@pytest.mark.parametrize("endpoint", SIGNED, ids=lambda e: e.path)
def test_hostile_signed_bodies(fuzz, endpoint):
    client, _, templates = fuzz
    if endpoint.path in SIGNED_JSON_ROUTES:
        sign = SIGNED_JSON_ROUTES[endpoint.path]

        @PROFILE
        @given(body=hostile_json_body(templates[endpoint.path]))
        def run(body):
            _check(client.post(endpoint.path, content=body, headers=sign(body)), endpoint, body[:200])
    else:  # inbound mail: a signed form

        @PROFILE
        @given(fields=st.dictionaries(st.sampled_from(["recipient", "sender", "from", "subject", "body-plain",
                                                       "stripped-text", "Message-Id", "In-Reply-To"]), hostile_text))
        def run(fields):
            signed = mailgun_fields(**{k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                                       for k, v in fields.items()})
            _check(client.post(endpoint.path, data=signed), endpoint, fields)

    run()


def test_every_route_is_fuzzed():
    walked = endpoints(_app())
    left_out = [e for e in walked if not fuzzed(e)]
    assert all(e.path.startswith("/sandbox/") for e in left_out)
    assert len(ENDPOINTS) + len(left_out) == len(walked) and len(SIGNED) == len(SIGNED_JSON_ROUTES) + 1  # + Mailgun's signed form
