"""HTTP face of the sandbox AliExpress gateway: /sync, /rest/<path> and the /_control endpoints."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.redis import get_redis
from app.sandbox.aliexpress.state import (
    METHODS,
    GatewayError,
    add_app,
    advance,
    behaviour,
    check_request,
    check_token,
    reset,
    save_order,
    seed,
    state_key,
    take,
    token_refresh,
)

router = APIRouter(include_in_schema=False)


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = None  # an order_status; default: the next one of the normal lifecycle
    end_reason: str | None = None  # for FINISH
    event: str | None = None  # a tracking event text (alone: only appends the event)


class BehaviourIn(BaseModel):
    """Counts apply to the next N API calls; latency to every call until set back to 0."""

    model_config = ConfigDict(extra="forbid")
    latency_ms: int | None = Field(default=None, ge=0, le=60000)
    fail_next: int | None = Field(default=None, ge=0)
    fail_status: int | None = Field(default=None, ge=500, le=599)
    lose_response_next: int | None = Field(default=None, ge=0)
    rate_limit_next: int | None = Field(default=None, ge=0)
    expire_tokens: bool = False  # every access token issued so far expires now
    # Only calls signed by this app meet the one-shot knobs (so one test's failure is not spent
    # by another caller of the shared emulator).
    app_key: str | None = None


class StockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str
    sku_attr: str = ""
    stock: int = Field(ge=0)


def _serve(params: dict[str, str], api_path: str | None) -> Response:
    seed()
    knobs = behaviour()
    if knobs.get("latency_ms"):
        time.sleep(knobs["latency_ms"] / 1000)
    caller = params.get("app_key")
    if take("fail_next", caller):
        status = knobs.get("fail_status") or 503
        return PlainTextResponse("upstream unavailable", status_code=status if status >= 500 else 503)
    request_id = uuid.uuid4().hex[:13]
    try:
        app_key = check_request(params, api_path)
        if take("rate_limit_next", caller):
            raise GatewayError("ApiCallLimit", "The request has exceeded the limit of this API", "ISP")
        if api_path is not None:
            if api_path != "/auth/token/refresh":
                raise GatewayError("InvalidApiPath", f"{api_path} is not an API of this sandbox")
            body: dict[str, Any] = {**token_refresh(params, app_key), "request_id": request_id}
        else:
            handler = METHODS.get(params.get("method", ""))
            if handler is None:
                raise GatewayError("InvalidApiPath", f"method {params.get('method')!r} is not supported")
            check_token(params, app_key)
            name = params["method"].replace(".", "_") + "_response"
            body = {name: {**handler(params, app_key), "request_id": request_id}}
    except GatewayError as error:
        body = {"type": error.kind, "code": error.code, "message": error.message, "request_id": request_id}
    if take("lose_response_next", caller):
        return PlainTextResponse("gateway timeout", status_code=504)  # the work above stays done
    return JSONResponse(body)


async def _params(request: Request) -> dict[str, str]:
    # The gateway takes parameters from the query string and the form body alike.
    params = dict(request.query_params)
    params.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    return params


@router.api_route("/sync", methods=["GET", "POST"])
async def sync_gateway(request: Request) -> Response:
    return await run_in_threadpool(_serve, await _params(request), None)


@router.api_route("/rest/{path:path}", methods=["GET", "POST"])
async def rest_gateway(path: str, request: Request) -> Response:
    return await run_in_threadpool(_serve, await _params(request), "/" + path)


# ---- control (not part of AliExpress: drives the emulator) ---------------------------------------


@router.get("/_control/orders")
def control_orders(out_order_id: str | None = None) -> dict[str, Any]:
    seed()
    orders = [json.loads(raw) for raw in get_redis().hvals(state_key("orders"))]
    if out_order_id is not None:
        orders = [o for o in orders if o["out_order_id"] == out_order_id]
    return {"orders": sorted(orders, key=lambda o: o["order_id"])}


@router.post("/_control/orders/{order_id}/advance")
def control_advance(order_id: str, change: AdvanceIn | None = None) -> dict[str, Any]:
    raw = get_redis().hget(state_key("orders"), order_id)
    if raw is None:
        raise HTTPException(404, "no such order")
    order, change = json.loads(raw), change or AdvanceIn()
    advance(order, change.to, change.end_reason, change.event)
    save_order(order)
    return {"order": order}


@router.get("/_control/behaviour")
def control_get_behaviour() -> dict[str, Any]:
    return {"behaviour": behaviour()}


@router.post("/_control/behaviour")
def control_behaviour(knobs: BehaviourIn) -> dict[str, Any]:
    seed()
    r = get_redis()
    target = state_key("behaviour", knobs.app_key) if knobs.app_key else state_key("behaviour")
    for name, value in knobs.model_dump(exclude_none=True, exclude={"expire_tokens", "app_key"}).items():
        r.hset(target, name, value)
    if knobs.expire_tokens:
        for token, raw in r.hgetall(state_key("tokens")).items():
            r.hset(state_key("tokens"), token, json.dumps({**json.loads(raw), "expires_at": 0}))
    return {"behaviour": behaviour()}


@router.post("/_control/stock")
def control_stock(level: StockIn) -> dict[str, Any]:
    seed()
    field = f"{level.product_id}|{level.sku_attr}"
    if not get_redis().hexists(state_key("stock"), field):
        raise HTTPException(404, f"no sku {field}")
    get_redis().hset(state_key("stock"), field, level.stock)
    return {"stock": {field: level.stock}}


@router.post("/_control/apps")
def control_new_app() -> dict[str, str]:
    """A fresh app with its own secret and tokens, so that a test needs no global reset."""
    seed()
    app = {"app_key": str(600000 + get_redis().incr(state_key("app_seq"))), "app_secret": secrets.token_hex(16),
           "access_token": "50000" + secrets.token_hex(16), "refresh_token": "50001" + secrets.token_hex(16)}
    add_app(**app)
    return app


@router.post("/_control/reset")
def control_reset() -> dict[str, str]:
    reset()
    return {"status": "reset"}

