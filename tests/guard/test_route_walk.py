"""A NUL in every parameter of every route (path, query, form field, JSON member, and a signed
webhook's body behind a valid signature): each one answered 400 with a reason, none 5xx."""

from __future__ import annotations

import json

from tests.factories import session_token
from tests.guard.routes import endpoints
from tests.guard.signing import SIGNED_JSON_ROUTES, mailgun_fields

NUL = "x\x00y"


def _requests(endpoint, token: str):
    """(what, kwargs for client.request) with a NUL in one place each."""
    auth = {"Authorization": f"Bearer {token}"}
    base_query = dict.fromkeys(endpoint.query, "1")
    for name in endpoint.path_params:
        yield f"path {name}", {"url": endpoint.url({name: "x%00y"}), "params": base_query, "headers": auth}
    for name in (*endpoint.query, "guard_probe"):
        yield f"query {name}", {"url": endpoint.url(), "params": {**base_query, name: NUL}, "headers": auth}
    if endpoint.method == "GET":
        return
    if endpoint.signed:
        if endpoint.path in SIGNED_JSON_ROUTES:
            body = json.dumps({"id": 1, "openId": "1", "probe": NUL}).encode()
            yield "signed JSON body", {"url": endpoint.url(), "content": body,
                                       "headers": SIGNED_JSON_ROUTES[endpoint.path](body)}
        else:
            yield "signed form", {"url": endpoint.url(), "data": mailgun_fields(subject=NUL)}
        return
    form = {"id_token": token, **dict.fromkeys(endpoint.form, "1")}
    for name in (*endpoint.form, "message"):
        yield f"form {name}", {"url": endpoint.url(), "data": {**form, name: NUL}}
        yield f"multipart {name}", {"url": endpoint.url(), "data": {**form, name: NUL},
                                    "files": [("photos", ("a.png", b"\x89PNG\x00", "image/png"))]}
    yield "JSON body", {"url": endpoint.url(), "content": json.dumps({"probe": NUL, "id_token": token}).encode(),
                        "headers": {**auth, "Content-Type": "application/json"}}


def test_a_nul_anywhere_is_refused_with_a_reason(client, shop):
    token = session_token(shop.domain)
    walked = endpoints(client.app)
    assert len(walked) > 100 and any(e.signed for e in walked) and any(e.path.startswith("/sandbox") for e in walked)
    wrong, sent = [], 0
    for endpoint in walked:
        for what, kwargs in _requests(endpoint, token):
            response = client.request(endpoint.method, follow_redirects=False, **kwargs)
            sent += 1
            answer = response.json() if response.headers.get("content-type") == "application/json" else {}
            if response.status_code != 400 or not answer.get("detail") or "NUL" not in answer["detail"]:
                wrong.append(f"{endpoint.method} {endpoint.path} [{what}]: {response.status_code} {response.text[:120]}")
    assert not wrong, f"{len(wrong)} of {sent} not refused:\n" + "\n".join(wrong)
