"""The generic supplier's signed API (protocol A) and its unsigned control endpoints.

Routes are async: they read the raw body to check the signature, and latency / hang behaviours
sleep without holding a thread. Redis work runs in the threadpool.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.config import get_settings
from app.sandbox import delivery
from app.sandbox.signing import check_signature
from app.sandbox.supplier import lifecycle, state
from app.sandbox.supplier.schemas import BehaviourIn, OrderIn

router = APIRouter()

def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


async def _json(request: Request, body: bytes | None = None) -> Any:
    raw = body if body is not None else await request.body()
    if not raw:
        return {}
    return json.loads(raw)


async def _signed_call(request: Request, handle) -> JSONResponse:
    """Authenticate, apply the behaviours, run the handler; a hang applies the request first."""
    settings = get_settings()
    body = await request.body()
    if request.headers.get("x-api-key") != settings.supplier_api_key:
        return _error(401, "unknown or missing X-Api-Key")
    reason = check_signature(
        settings.supplier_api_secret, request.headers.get("x-timestamp"), request.headers.get("x-signature"), body
    )
    if reason:
        return _error(401, reason)
    rules = await run_in_threadpool(state.behaviour)
    if rules["latency_ms"]:
        await asyncio.sleep(rules["latency_ms"] / 1000)
    if await run_in_threadpool(state.take, "fail_next"):
        return _error(503, "supplier temporarily unavailable")
    hang = await run_in_threadpool(state.take, "hang_next")
    response = await handle(body)
    if hang:
        # The request was received and applied; the answer is what gets lost.
        await asyncio.sleep(rules["hang_ms"] / 1000)
    return response


@router.post("/orders")
async def create_order(request: Request) -> JSONResponse:
    async def handle(body: bytes) -> JSONResponse:
        try:
            order_in = OrderIn.model_validate(await _json(request, body))
        except ValidationError as error:
            return _error(400, _reason(error))
        except ValueError as error:
            return _error(400, f"body is not JSON: {error}")
        missing = await run_in_threadpool(
            state.out_of_stock, [line.sku for line in order_in.lines if line.sku]
        )
        if missing:
            return _error(409, "out_of_stock", sku=missing)
        order = await run_in_threadpool(state.create_order, order_in.model_dump())
        await run_in_threadpool(lifecycle.schedule_next, order)
        return JSONResponse(state.public(order), status_code=201)

    return await _signed_call(request, handle)


@router.get("/orders")
async def list_orders(request: Request, reference: str | None = None) -> JSONResponse:
    async def handle(_: bytes) -> JSONResponse:
        if not reference:
            return _error(400, "reference is required")
        orders = await run_in_threadpool(state.find_orders, reference=reference)
        return JSONResponse({"orders": [state.public(order) for order in orders]})

    return await _signed_call(request, handle)


@router.get("/orders/{order_id}")
async def get_order(request: Request, order_id: str) -> JSONResponse:
    async def handle(_: bytes) -> JSONResponse:
        order = await run_in_threadpool(state.get_order, order_id)
        if order is None:
            return _error(404, f"no order {order_id}")
        return JSONResponse(state.public(order))

    return await _signed_call(request, handle)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: str) -> JSONResponse:
    async def handle(_: bytes) -> JSONResponse:
        try:
            order, changed = await run_in_threadpool(lifecycle.cancel, order_id)
        except lifecycle.AlreadyShipped:
            return _error(409, "already shipped")
        if order is None:
            return _error(404, f"no order {order_id}")
        if changed:
            await run_in_threadpool(delivery.send_later, lifecycle.callback(order))
        return JSONResponse(state.public(order))

    return await _signed_call(request, handle)


@router.get("/_control/orders")
def control_orders(shop: str | None = None, reference: str | None = None) -> dict[str, Any]:
    orders = [state.public(order) for order in state.find_orders(reference=reference, shop=shop)]
    return {"orders": orders, "count": len(orders)}


@router.get("/_control/behaviour")
def control_get_behaviour() -> dict[str, Any]:
    return state.behaviour()


@router.post("/_control/behaviour")
async def control_behaviour(request: Request) -> JSONResponse:
    try:
        changes = BehaviourIn.model_validate(await _json(request))
    except ValidationError as error:
        return _error(400, _reason(error))
    except ValueError as error:
        return _error(400, f"body is not JSON: {error}")
    updated = await run_in_threadpool(state.set_behaviour, changes.model_dump(exclude_none=True))
    return JSONResponse(updated)


@router.post("/_control/orders/{order_id}/advance")
async def control_advance(order_id: str) -> JSONResponse:
    order, changed = await run_in_threadpool(lifecycle.advance, order_id)
    if order is None:
        return _error(404, f"no order {order_id}")
    if not changed:
        return _error(409, f"order is {order['status']}; nothing to advance", order=state.public(order))
    async with httpx.AsyncClient() as client:
        # Answered after the first callback attempt, so a test can assert on it right away.
        await delivery.send_async(lifecycle.callback(order), client)
    await run_in_threadpool(lifecycle.schedule_next, order)
    return JSONResponse(state.public(order))


@router.post("/_control/reset")
async def control_reset(request: Request) -> JSONResponse:
    try:
        options = await _json(request)
    except ValueError as error:
        return _error(400, f"body is not JSON: {error}")
    wipe = bool(isinstance(options, dict) and options.get("orders"))
    await run_in_threadpool(state.reset, orders=wipe)
    return JSONResponse({"reset": True, "orders_deleted": wipe, "behaviour": await run_in_threadpool(state.behaviour)})
