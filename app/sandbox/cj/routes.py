"""HTTP face of the sandbox CJdropshipping API (paths after /api2.0/v1) and its /_control endpoints."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import APIRouter, Body, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.redis import get_redis
from app.sandbox.cj.state import (
    VARIANTS,
    CJError,
    Deliver,
    account_for,
    advance,
    behaviour,
    cancel_order,
    create_order,
    get_access_token,
    list_orders,
    open_id_of,
    order_detail,
    push,
    push_stock,
    refresh,
    reset,
    save_order,
    seed,
    set_callbacks,
    sign_body,
    state_key,
    stock_by_vid,
    take,
    track_info,
)

TOKEN = Header(default=None, alias="CJ-Access-Token")


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = None  # an orderStatus; default: the next one of the normal lifecycle
    tracking_status: int | None = Field(default=None, ge=0, le=14)  # a LOGISTIC update instead
    activity: str | None = None
    location: str | None = None


class BehaviourIn(BaseModel):
    """Counts apply to the next N API calls; latency to every call until set back to 0."""

    model_config = ConfigDict(extra="forbid")
    latency_ms: int | None = Field(default=None, ge=0, le=60000)
    fail_next: int | None = Field(default=None, ge=0)
    fail_status: int | None = Field(default=None, ge=500, le=599)
    lose_response_next: int | None = Field(default=None, ge=0)
    rate_limit_next: int | None = Field(default=None, ge=0)
    expire_tokens: bool = False  # every access token issued so far expires now


class StockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vid: str
    stock: int = Field(ge=0)


def http_deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        return httpx.post(url, content=body, headers=headers, timeout=3.0).status_code  # CJ waits 3 s
    except httpx.HTTPError:
        return 0


def _answer(data: Any = None, error: CJError | None = None) -> JSONResponse:
    body = {"code": error.code if error else 200, "result": error is None,
            "message": error.message if error else "Success", "data": data, "requestId": str(uuid.uuid4())}
    return JSONResponse(body, status_code=error.http_status if error else 200)


def _serve(action: Callable[..., Any], token: str | None = None, *, auth: bool = True) -> JSONResponse:
    seed()
    knobs = behaviour()
    if knobs.get("latency_ms"):
        time.sleep(knobs["latency_ms"] / 1000)
    if take("fail_next"):
        status = knobs.get("fail_status") or 502
        return JSONResponse({"error": "upstream unavailable"}, status_code=status)
    try:
        if take("rate_limit_next"):
            raise CJError(1600200, "Too much request", 429)
        response = _answer(action(account_for(token)) if auth else action())
    except CJError as error:
        response = _answer(error=error)
    if take("lose_response_next"):
        return JSONResponse({"error": "gateway timeout"}, status_code=504)  # the work above stays done
    return response


def create_router(deliver: Deliver = http_deliver) -> APIRouter:
    """The emulator; `deliver` posts webhooks (tests pass one that records them)."""
    router = APIRouter(include_in_schema=False)

    @router.post("/authentication/getAccessToken")
    def token_get(body: dict[str, Any] = Body(...)) -> JSONResponse:
        return _serve(lambda: get_access_token(body), auth=False)

    @router.post("/authentication/refreshAccessToken")
    def token_refresh(body: dict[str, Any] = Body(...)) -> JSONResponse:
        return _serve(lambda: refresh(body), auth=False)

    @router.post("/shopping/order/createOrderV2")
    def order_create(body: dict[str, Any] = Body(...), token: str | None = TOKEN) -> JSONResponse:
        return _serve(lambda account: create_order(body, account), token)

    @router.get("/shopping/order/getOrderDetail")
    def order_get(orderId: str, token: str | None = TOKEN) -> JSONResponse:  # noqa: N803 - CJ's name
        return _serve(lambda account: order_detail(account, orderId), token)

    @router.get("/shopping/order/list")
    def order_list(pageNum: int = 1, pageSize: int = 20, status: str | None = None,  # noqa: N803
                   token: str | None = TOKEN) -> JSONResponse:
        return _serve(lambda account: list_orders(account, max(pageNum, 1), min(max(pageSize, 1), 200), status),
                      token)

    @router.delete("/shopping/order/deleteOrder")
    def order_delete(orderId: str, token: str | None = TOKEN) -> JSONResponse:  # noqa: N803
        return _serve(lambda account: cancel_order(account, orderId, deliver), token)

    @router.get("/logistic/trackInfo")
    def tracking(trackNumber: str, token: str | None = TOKEN) -> JSONResponse:  # noqa: N803
        return _serve(lambda account: track_info(account, trackNumber), token)

    @router.get("/product/stock/queryByVid")
    def stock(vid: str, token: str | None = TOKEN) -> JSONResponse:
        return _serve(lambda account: stock_by_vid(vid), token)

    @router.get("/setting/get")
    def settings(token: str | None = TOKEN) -> JSONResponse:
        return _serve(lambda account: {"openId": open_id_of(account)}, token)

    @router.post("/webhook/set")
    def webhook_set(body: dict[str, Any] = Body(...), token: str | None = TOKEN) -> JSONResponse:
        return _serve(lambda account: set_callbacks(account, body), token)

    _control_routes(router, deliver)
    return router


def _control_routes(router: APIRouter, deliver: Deliver) -> None:
    """Not part of CJ: drive the emulator's lifecycle, failures and webhook redelivery."""

    @router.get("/_control/orders")
    def control_orders(order_number: str | None = None) -> dict[str, Any]:
        seed()
        orders = [json.loads(raw) for raw in get_redis().hvals(state_key("orders"))]
        orders = [o for o in orders if order_number is None or o["orderNum"] == order_number]
        return {"orders": sorted(orders, key=lambda o: o["orderId"])}

    @router.post("/_control/orders/{order_id}/advance")
    def control_advance(order_id: str, change: AdvanceIn | None = None) -> dict[str, Any]:
        raw = get_redis().hget(state_key("orders"), order_id)
        if raw is None:
            raise HTTPException(404, "no such order")
        order = json.loads(raw)
        changes = advance(order, (change or AdvanceIn()).model_dump(exclude_none=True))
        save_order(order)
        return {"order": order, "deliveries": push(order, deliver, **changes)}

    @router.get("/_control/webhooks")
    def control_webhooks() -> dict[str, Any]:
        return {"deliveries": [json.loads(raw) for raw in get_redis().lrange(state_key("deliveries"), 0, -1)]}

    @router.post("/_control/webhooks/redeliver")
    def control_redeliver() -> dict[str, Any]:
        r, resent = get_redis(), []
        for index, raw in enumerate(r.lrange(state_key("deliveries"), 0, -1)):
            record = json.loads(raw)
            if record["status"] == 200 or record["attempts"] > 3:  # the first try plus 3 retries
                continue
            body = record["body"].encode()
            headers = {"Content-Type": "application/json", "sign": sign_body(body, str(json.loads(body)["openId"]))}
            record.update(status=deliver(record["url"], body, headers), attempts=record["attempts"] + 1)
            r.lset(state_key("deliveries"), index, json.dumps(record))
            resent.append({k: v for k, v in record.items() if k != "body"})
        return {"resent": resent}

    @router.get("/_control/behaviour")
    def control_get_behaviour() -> dict[str, Any]:
        return {"behaviour": behaviour()}

    @router.post("/_control/behaviour")
    def control_behaviour(knobs: BehaviourIn) -> dict[str, Any]:
        seed()
        r = get_redis()
        for name, value in knobs.model_dump(exclude_none=True, exclude={"expire_tokens"}).items():
            r.hset(state_key("behaviour"), name, value)
        if knobs.expire_tokens:
            for token, raw in r.hgetall(state_key("tokens")).items():
                r.hset(state_key("tokens"), token, json.dumps({**json.loads(raw), "until": 0}))
        return {"behaviour": behaviour()}

    @router.post("/_control/stock")
    def control_stock(level: StockIn) -> dict[str, Any]:
        seed()
        if level.vid not in VARIANTS:
            raise HTTPException(404, f"no variant {level.vid}")
        get_redis().hset(state_key("stock"), level.vid, level.stock)
        # CJ announces a stock change with a signed STOCK message, as for orders.
        return {"stock": {level.vid: level.stock}, "webhooks": push_stock(level.vid, deliver)}

    @router.post("/_control/accounts")
    def control_new_account() -> dict[str, Any]:
        """A fresh account (API key + openId), so that a test needs no global reset."""
        seed()
        api_key = "CJ-SANDBOX-" + secrets.token_hex(8).upper()
        open_id = 2000000000000 + get_redis().incr(state_key("account_seq"))
        get_redis().hset(state_key("accounts"), api_key, open_id)
        return {"api_key": api_key, "open_id": open_id}

    @router.post("/_control/reset")
    def control_reset() -> dict[str, str]:
        reset()
        return {"status": "reset"}
