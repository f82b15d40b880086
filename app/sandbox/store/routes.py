"""The store emulator's HTTP face: Admin GraphQL per shop (protocol B) and the control API.

Control endpoints that trigger webhooks answer after the first delivery attempt of each (in
order); failed deliveries are retried by the runner with Shopify's backoff.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from app.sandbox.store import (
    control,
    cost,
    disputes,
    graphql_api,
    history,
    refund_records,
    refunds,
    risk_assessments,
    state,
    webhooks,
)
from app.sandbox.store.oauth_routes import router as oauth_router
from app.shops.domains import is_shop_domain

router = APIRouter()
router.include_router(oauth_router)
router.include_router(risk_assessments.router)


class ShopIn(BaseModel):
    domain: str
    access_token: str = Field(min_length=1, max_length=255)
    name: str | None = None
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # Where this shop's webhooks go; defaults to public_base + /webhooks/shopify.
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")


class OrderIn(BaseModel):
    shop: str
    order: dict[str, Any] = Field(default_factory=dict)
    paid: bool = True


class CancelIn(BaseModel):
    reason: str = Field(default="customer", pattern=r"^(customer|fraud|inventory|declined|other|staff)$")


class RefundLineIn(BaseModel):
    line_item_id: int
    quantity: int = Field(default=1, ge=1)


class RefundIn(BaseModel):
    amount: str = Field(pattern=r"^\d{1,10}(\.\d{1,2})?$")
    note: str | None = Field(default=None, max_length=255)
    line_items: list[RefundLineIn] = Field(default_factory=list, max_length=100)


class SettleIn(BaseModel):
    status: str = Field(default="success", pattern=r"^(success|failure)$")


class StoreBehaviourIn(BaseModel):
    shop: str
    # Refund transactions made from now on: success (default), pending (settled later) or failure.
    transaction_status: str | None = Field(default=None, pattern="^(" + "|".join(refund_records.TRANSACTION_STATUSES) + ")$")
    # Hold the next N refundCreate answers back for hang_ms after the refund is made (a lost answer).
    hang_next: int | None = Field(default=None, ge=0, le=100)
    hang_ms: int | None = Field(default=None, ge=0, le=120_000)
    reset: bool = False


class DisputeIn(BaseModel):
    type: str = Field(default="chargeback", pattern=r"^(chargeback|inquiry)$")
    status: str = Field(default="needs_response", pattern="^(" + "|".join(history.DISPUTE_STATUSES) + ")$")
    reason: str = Field(default="product_not_received", pattern=r"^[a-z_]{1,64}$")
    network_reason_code: str | None = Field(default=None, pattern=r"^[A-Z0-9.]{1,8}$")
    amount: str | None = Field(default=None, pattern=r"^\d{1,10}(\.\d{1,2})?$")
    # Days from now to the evidence deadline (default: the network's usual window at Shopify).
    due_in_days: int | None = Field(default=None, ge=-30, le=60)


class DecideIn(BaseModel):
    status: str = Field(pattern="^(" + "|".join(disputes.DECISIONS) + ")$")


class ThrottleIn(BaseModel):
    shop: str
    currently_available: float | None = Field(default=None, ge=0)
    maximum_available: float | None = Field(default=None, gt=0)
    restore_rate: float | None = Field(default=None, ge=0)
    reset: bool = False


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _parse(request: Request, model: type[BaseModel]) -> BaseModel | JSONResponse:
    try:
        raw = await request.body()
        return model.model_validate(json.loads(raw) if raw else {})
    except ValidationError as error:
        first = error.errors()[0]
        return _error(400, f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}")
    except ValueError as error:
        return _error(400, f"body is not JSON: {error}")


async def _answer(work, *args: Any, status: int = 200, **kwargs: Any) -> JSONResponse:
    """Run a control action, send its webhooks (first attempt) and answer with the result."""
    try:
        document, deliveries = await run_in_threadpool(work, *args, **kwargs)
    except control.ControlError as error:
        return _error(error.status, error.message)
    sent = await webhooks.send_now(deliveries)
    view = control.order_view(document) if "order" in document else {"shop": document}
    view["webhooks"] = [
        {"topic": d.label, "event_id": d.headers["X-Shopify-Event-Id"], "delivered": ok}
        for d, ok in zip(deliveries, sent, strict=True)
    ]
    return JSONResponse(view, status_code=status)


@router.post("/{shop}/admin/api/{version}/graphql.json")
async def admin_graphql(request: Request, shop: str, version: str) -> JSONResponse:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        return JSONResponse({"errors": "body is not valid JSON"}, status_code=400)
    token = request.headers.get("x-shopify-access-token")
    answer = await run_in_threadpool(graphql_api.run, shop, token, payload, version)
    if answer.hold_seconds:
        # The effect is made; only its answer (and so the webhooks after it) is late.
        await asyncio.sleep(answer.hold_seconds)
    if answer.deliveries:
        # Shopify sends the webhooks of a mutation after answering it, from its own queue.
        await run_in_threadpool(webhooks.send_later, answer.deliveries)
    return JSONResponse(answer.body, status_code=answer.status, headers={"X-Shopify-API-Version": version})


@router.post("/_control/shops")
async def control_shop(request: Request) -> JSONResponse:
    body = await _parse(request, ShopIn)
    if isinstance(body, JSONResponse):
        return body
    domain = body.domain.strip().lower()
    if not is_shop_domain(domain):
        return _error(400, "domain must be a *.myshopify.com domain")
    shop = await run_in_threadpool(
        state.save_shop, domain, body.access_token, name=body.name, currency=body.currency,
        webhook_url=body.webhook_url,
    )
    return JSONResponse({"shop": {k: v for k, v in shop.items() if k != "access_token"}}, status_code=201)


@router.post("/_control/shops/{domain}/uninstall")
async def control_uninstall(domain: str) -> JSONResponse:
    return await _answer(control.uninstall, domain)


@router.post("/_control/orders")
async def control_create_order(request: Request) -> JSONResponse:
    body = await _parse(request, OrderIn)
    if isinstance(body, JSONResponse):
        return body
    return await _answer(control.create_order, body.shop.strip().lower(), body.order, paid=body.paid, status=201)


@router.get("/_control/orders")
def control_list_orders(shop: str) -> dict[str, Any]:
    documents = state.list_orders(shop.strip().lower())
    return {"orders": [document["order"] for document in documents], "count": len(documents)}


@router.get("/_control/orders/{order_id}")
def control_get_order(order_id: int) -> JSONResponse:
    document = state.get_order(order_id)
    if document is None:
        return _error(404, f"no order {order_id}")
    return JSONResponse(control.order_view(document))


@router.post("/_control/orders/{order_id}/pay")
async def control_pay(order_id: int) -> JSONResponse:
    return await _answer(control.pay, order_id)


@router.post("/_control/orders/{order_id}/cancel")
async def control_cancel(request: Request, order_id: int) -> JSONResponse:
    body = await _parse(request, CancelIn)
    if isinstance(body, JSONResponse):
        return body
    return await _answer(control.cancel, order_id, body.reason)


@router.post("/_control/orders/{order_id}/refunds")
async def control_refund(request: Request, order_id: int) -> JSONResponse:
    body = await _parse(request, RefundIn)
    if isinstance(body, JSONResponse):
        return body
    return await _answer(refunds.merchant_refund, order_id, body.amount, body.note,
                         [line.model_dump() for line in body.line_items], status=201)


@router.post("/_control/orders/{order_id}/refunds/{refund_id}/settle")
async def control_settle_refund(request: Request, order_id: int, refund_id: int) -> JSONResponse:
    body = await _parse(request, SettleIn)
    if isinstance(body, JSONResponse):
        return body
    return await _answer(refunds.settle, order_id, refund_id, body.status)


@router.post("/_control/behaviour")
async def control_behaviour(request: Request) -> JSONResponse:
    body = await _parse(request, StoreBehaviourIn)
    if isinstance(body, JSONResponse):
        return body
    domain = body.shop.strip().lower()
    if body.reset:
        await run_in_threadpool(refunds.set_behaviour, domain, **refunds.DEFAULT_BEHAVIOUR)
    rules = body.model_dump(exclude={"shop", "reset"})
    return JSONResponse({"shop": domain, "behaviour": await run_in_threadpool(refunds.set_behaviour, domain, **rules)})


@router.put("/_staged/{token}")
async def staged_upload(request: Request, token: str) -> JSONResponse:
    """Where stagedUploadsCreate's target points: the file's bytes, kept for disputeEvidenceUpdate."""
    body = await request.body()
    stored = await run_in_threadpool(disputes.receive_upload, token, body)
    if not stored:
        return _error(404, "no staged upload target with this token")
    return JSONResponse({"stored": len(body)}, status_code=201)


@router.post("/_control/orders/{order_id}/disputes")
async def control_dispute(request: Request, order_id: int) -> JSONResponse:
    body = await _parse(request, DisputeIn)
    if isinstance(body, JSONResponse):
        return body
    return await _answer(disputes.open_dispute, order_id, body.type, body.status, body.reason,
                         network_reason_code=body.network_reason_code, amount=body.amount,
                         due_in_days=body.due_in_days, status=201)


@router.post("/_control/disputes/{dispute_id}/decide")
async def control_decide_dispute(request: Request, dispute_id: int) -> JSONResponse:
    """The bank's decision (won, lost) or the merchant's acceptance: disputes/update."""
    body = await _parse(request, DecideIn)
    if isinstance(body, JSONResponse):
        return body
    return await _answer(disputes.decide, dispute_id, body.status)


@router.get("/_control/disputes/{dispute_id}")
async def control_view_dispute(dispute_id: int) -> JSONResponse:
    """One dispute as the store holds it, with how many disputeEvidenceUpdate calls it received."""
    try:
        return JSONResponse(await run_in_threadpool(disputes.control_view, dispute_id))
    except control.ControlError as error:
        return _error(error.status, error.message)


@router.get("/_control/fulfillments")
def control_fulfillments(shop: str) -> dict[str, Any]:
    fulfillments = state.list_fulfillments(shop.strip().lower())
    return {"fulfillments": fulfillments, "count": len(fulfillments)}


@router.post("/_control/throttle")
async def control_throttle(request: Request) -> JSONResponse:
    body = await _parse(request, ThrottleIn)
    if isinstance(body, JSONResponse):
        return body
    domain = body.shop.strip().lower()
    if body.reset:
        throttle = await run_in_threadpool(cost.reset, domain)
    else:
        throttle = await run_in_threadpool(
            cost.configure, domain, currently_available=body.currently_available,
            maximum_available=body.maximum_available, restore_rate=body.restore_rate,
        )
    return JSONResponse({"shop": domain, "throttleStatus": throttle.status()})
