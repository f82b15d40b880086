"""The sandbox alert provider: relays Ethoca / Verifi CDRN (and RDR, TC40) alerts to Dropguard as
signed webhooks and takes the merchant's outcome back, as providers' merchant APIs do.

Mounted by the sandbox app at /sandbox/alerts:
  POST /_control/alerts {shop, type, card_network, order_reference?, arn?, amount, currency, reason?,
                         reason_code?}                     creates an alert and sends its webhook
  GET  /_control/alerts/{id}                               the alert, its outcome and every outcome post
  POST /_control/behaviour {fail_next?, hang_next?, hang_ms?, reset?}   outcome API misbehaviour
  GET  /api/alerts/{id}             (X-Api-Key)            the alert as the merchant's API shows it
  POST /api/alerts/{id}/outcome     (X-Api-Key) {outcome}  final once written: the same again is
                                                           answered 200, a different one 409
State lives in Redis so every web process shares it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Body, Header, HTTPException
from fastapi.concurrency import run_in_threadpool

from app.alerts.decision import OUTCOMES
from app.config import get_settings
from app.db import utcnow
from app.redis import get_redis, key
from app.sandbox import delivery

router = APIRouter(tags=["sandbox: alert provider"])
TTL = 30 * 24 * 3600
_BEHAVIOUR = {"fail_next": 0, "hang_next": 0, "hang_ms": 20000}


def _key(*parts: str) -> str:
    return key("sandbox", "alerts", *parts)


def _load(alert_id: str) -> dict[str, Any]:
    raw = get_redis().get(_key("alert", alert_id))
    if raw is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return json.loads(raw)


def _save(alert: dict[str, Any]) -> None:
    get_redis().set(_key("alert", alert["id"]), json.dumps(alert), ex=TTL)


def _take(name: str) -> bool:
    """One unit of a misbehaviour counter (atomic, so two requests never take the same one)."""
    left = get_redis().hincrby(_key("behaviour"), name, -1)
    if left >= 0:
        return True
    get_redis().hset(_key("behaviour"), name, 0)
    return False


def _create(body: dict[str, Any]) -> dict[str, Any]:
    number = get_redis().incr(_key("seq"))
    alert = {
        "event": "alert.created", "id": f"alt_{number:06d}", "type": body.get("type", "ethoca"),
        "card_network": body.get("card_network", "visa"), "shop": body.get("shop"),
        "order_reference": body.get("order_reference"), "arn": body.get("arn"), "amount": str(body.get("amount")),
        "currency": body.get("currency", "USD"), "reason": body.get("reason"), "reason_code": body.get("reason_code"),
        "created_at": utcnow().isoformat(),
    }
    _save({**alert, "outcome": None, "outcome_at": None, "outcome_posts": []})
    return alert


def _webhook(alert: dict[str, Any]) -> delivery.Delivery:
    settings = get_settings()
    return delivery.Delivery(url=f"{settings.public_base}/webhooks/alerts", body=json.dumps(alert),
                             headers={"Content-Type": "application/json"}, signer="alerts", label="alert.created",
                             backoff=[1.0, 2.0, 4.0, 8.0])


@router.post("/_control/alerts", status_code=201)
async def create_alert(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    if not body.get("shop") or body.get("amount") is None:
        raise HTTPException(422, "shop and amount are required")
    alert = await run_in_threadpool(_create, body)
    delivered = await run_in_threadpool(delivery.send_sync, _webhook(alert))
    return {"alert": alert, "delivered": delivered}


@router.get("/_control/alerts/{alert_id}")
def control_alert(alert_id: str) -> dict[str, Any]:
    return {"alert": _load(alert_id)}


@router.post("/_control/behaviour")
def behaviour(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    redis = get_redis()
    if body.get("reset"):
        redis.delete(_key("behaviour"))
    for name in _BEHAVIOUR:
        if name in body:
            redis.hset(_key("behaviour"), name, int(body[name]))
    stored = redis.hgetall(_key("behaviour"))
    return {name: int(stored.get(name.encode(), default)) for name, default in _BEHAVIOUR.items()}


def _authorised(api_key: str | None) -> None:
    if api_key != get_settings().alert_provider_api_key:
        raise HTTPException(401, "bad X-Api-Key")


@router.get("/api/alerts/{alert_id}")
def api_alert(alert_id: str, x_api_key: str | None = Header(default=None)) -> dict[str, Any]:
    _authorised(x_api_key)
    alert = _load(alert_id)
    return {k: alert[k] for k in ("id", "type", "card_network", "amount", "currency", "outcome", "outcome_at")}


def _apply_outcome(alert_id: str, outcome: str, key_header: str | None, body: dict[str, Any]) -> dict[str, Any]:
    alert = _load(alert_id)
    alert["outcome_posts"].append({"outcome": outcome, "idempotency_key": key_header, "at": utcnow().isoformat(),
                                   "refund": body.get("refund")})
    if alert["outcome"] not in (None, outcome):
        _save(alert)
        raise HTTPException(409, f"outcome is final: already {alert['outcome']}")
    if alert["outcome"] is None:
        alert["outcome"], alert["outcome_at"] = outcome, utcnow().isoformat()
    _save(alert)
    return alert


@router.post("/api/alerts/{alert_id}/outcome")
async def api_outcome(alert_id: str, body: dict[str, Any] = Body(...), x_api_key: str | None = Header(default=None),
                      idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    _authorised(x_api_key)
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise HTTPException(422, f"outcome must be one of {', '.join(OUTCOMES)}")
    if await run_in_threadpool(_take, "fail_next"):
        raise HTTPException(503, "provider temporarily unavailable")
    alert = await run_in_threadpool(_apply_outcome, alert_id, outcome, idempotency_key, body)
    if await run_in_threadpool(_take, "hang_next"):
        # The outcome is stored, the answer held back: the caller's worker may die meanwhile.
        hang_ms = int(get_redis().hget(_key("behaviour"), "hang_ms") or _BEHAVIOUR["hang_ms"])
        await asyncio.sleep(hang_ms / 1000)
    return {"id": alert["id"], "outcome": alert["outcome"]}
