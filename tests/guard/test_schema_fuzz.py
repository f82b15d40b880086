"""Schemathesis over an OpenAPI document of every route (tests/guard/openapi.py: the JSON API as
FastAPI describes it, plus the pages, form posts, webhooks and sandbox routes FastAPI leaves
out): no answer is a server error. Requests carry a valid session token; webhook bodies are
signed by `_sign_webhook` on the bytes actually sent."""

from __future__ import annotations

import json
import uuid

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from tests.factories import session_token
from tests.guard.openapi import document
from tests.guard.signing import SIGNED_JSON_ROUTES, mailgun_fields
from tests.guard.strategies import PROFILE, unique_ip
from tests.guard.test_fuzz_routes import _app, fuzzed, max_outbox_id_now
from tests.webhooks.helpers import retire_outbox_after

APP = _app()
# Examples and coverage phases off: the coverage phase alone sends dozens of cases per operation
# (minutes over ~150 operations on two cores); the profile bounds the fuzzing phase.
CONFIG = SchemathesisConfig.from_dict({"phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
                                                  "stateful": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(document(APP, include=fuzzed), config=CONFIG)


@pytest.fixture(scope="module")
def visitor():
    from app.db import get_sessionmaker
    from app.shops.service import add_shop

    with get_sessionmaker()() as session:
        shop = add_shop(session, domain=f"schema-{uuid.uuid4().hex[:10]}.myshopify.com", access_token="shpat_s")
        session.commit()
    before = max_outbox_id_now()
    with TestClient(APP, client=unique_ip()) as client:
        yield client, session_token(shop.domain)
    retire_outbox_after(before)


def _sign_webhook(path: str, kwargs: dict) -> dict:
    """The hook that signs: the body is serialised here, once, and signed as those bytes."""
    if path in SIGNED_JSON_ROUTES:
        body = json.dumps(kwargs.pop("json", None), allow_nan=True).encode()
        kwargs.pop("data", None)
        kwargs["content"] = body
        kwargs["headers"] = {**kwargs.get("headers", {}), **SIGNED_JSON_ROUTES[path](body)}
    elif path == "/webhooks/mail/mailgun":
        fields = kwargs.get("data") if isinstance(kwargs.get("data"), dict) else {}
        kwargs["data"] = mailgun_fields(**{str(k): str(v) for k, v in fields.items()})
    return kwargs


def _as_uploads(kwargs: dict) -> dict:
    """Schemathesis's multipart parts (any JSON value for a binary field) as files httpx sends."""
    files = kwargs.pop("files", None)
    if files:
        parts = []
        for name, value in files.items() if isinstance(files, dict) else files:
            content = value[1] if isinstance(value, tuple) and len(value) > 1 else value
            data = content if isinstance(content, bytes) else str(content).encode("utf-8", "surrogatepass")
            parts.append((str(name), ("upload.bin", data, "application/octet-stream")))
        kwargs["files"] = parts
    return kwargs


@schema.parametrize()
@PROFILE
def test_no_server_error(case, visitor):
    client, token = visitor
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)
    kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
    if isinstance(kwargs.get("data"), dict) and not case.operation.path.startswith("/webhooks/"):
        kwargs["data"] = {"id_token": token, **kwargs["data"]}
    kwargs = _sign_webhook(case.operation.path, _as_uploads(kwargs))
    response = client.request(follow_redirects=False, **kwargs)
    assert response.status_code < 500, f"{case.operation.method} {case.operation.path}: {response.text[:300]}"
    response.request.read()  # a multipart request is a stream until read
    case.validate_response(response, checks=[not_a_server_error])


def test_the_document_lists_every_route():
    from tests.guard.routes import endpoints

    listed = {(path, method.upper()) for path, operations in schema.raw_schema["paths"].items() for method in operations}
    expected = {(e.openapi_path, e.method) for e in endpoints(APP) if fuzzed(e)}
    assert expected <= listed and any(p.startswith("/admin") for p, _ in listed)
