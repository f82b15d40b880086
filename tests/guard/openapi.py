"""An OpenAPI document of every route the app serves: FastAPI's own operations (the JSON API,
with their models), then each route it leaves out (HTML pages, form posts, webhooks, the sandbox)
from the routes' declared parameters, so that Schemathesis reaches all of them."""

from __future__ import annotations

import copy
from typing import Any

from tests.guard.routes import Endpoint, endpoints

ANY_RESPONSE = {"default": {"description": "any answer below 500"}}
TEXT = {"type": "string"}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": TEXT} for name in endpoint.path_params]
    parameters += [{"name": name, "in": "query", "required": False, "schema": TEXT} for name in endpoint.query]
    operation: dict[str, Any] = {"operationId": f"{endpoint.method} {endpoint.path}", "parameters": parameters,
                                 "responses": ANY_RESPONSE}
    if endpoint.method == "GET":
        return operation
    if endpoint.signed and endpoint.path.endswith("/mailgun"):
        fields = ("recipient", "sender", "from", "subject", "body-plain", "stripped-text", "Message-Id")
        content = {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": dict.fromkeys(fields, TEXT), "required": ["recipient", "sender"]}}}
    elif endpoint.signed or endpoint.json_body:
        content = {"application/json": {"schema": {"type": "object"}}}
    elif endpoint.files:
        properties = {**dict.fromkeys(endpoint.form, TEXT),
                      **dict.fromkeys(endpoint.files, {"type": "string", "format": "binary"})}
        content = {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}}
    else:
        properties = dict.fromkeys((*endpoint.form, "message", "reason"), TEXT) if endpoint.form or endpoint.html \
            else dict.fromkeys(endpoint.form or ("message",), TEXT)
        content = {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": properties}}}
    operation["requestBody"] = {"required": True, "content": content}
    return operation


def document(app, *, include=lambda endpoint: True) -> dict[str, Any]:
    doc = copy.deepcopy(app.openapi())
    doc.setdefault("paths", {})
    for endpoint in endpoints(app):
        if not include(endpoint):
            continue
        method = endpoint.method.lower()
        operations = doc["paths"].setdefault(endpoint.openapi_path, {})
        if method not in operations:
            operations[method] = _operation(endpoint)
    # Only the routes chosen: FastAPI's own operations too.
    chosen = {(e.openapi_path, e.method.lower()) for e in endpoints(app) if include(e)}
    for path, operations in list(doc["paths"].items()):
        for method in list(operations):
            if method in {"get", "post", "put", "patch", "delete"} and (path, method) not in chosen:
                del operations[method]
        if not any(m in operations for m in ("get", "post", "put", "patch", "delete")):
            del doc["paths"][path]
    return doc
