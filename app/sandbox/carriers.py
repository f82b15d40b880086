"""Sandbox 17TRACK and AfterShip APIs, plus control endpoints that move parcels along their journey.

Mounted by the sandbox app at /sandbox/carriers:
  17TRACK   POST /17track/track/v2.2/{register,gettrackinfo,stoptrack,retrack,getquota}  (17token)
  AfterShip POST /aftership/tracking/2026-07/trackings, GET .../trackings/{id},
            GET .../trackings?tracking_numbers=...                                      (as-api-key)
  control   GET|POST /_control/config, POST /_control/parcels, GET /_control/parcels/{number},
            POST /_control/advance
Journeys, state and webhook delivery live in app.sandbox.carrier_life (whose EmulatorError is an
HTTPException, so bad control input is answered 4xx with a reason).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.sandbox import carrier_life as life
from app.tracking.aggregators import aftership, seventeentrack

router = APIRouter(tags=["sandbox: carriers"])
ST, AS = life.SEVENTEENTRACK, life.AFTERSHIP


def _st_answer(accepted=(), rejected=(), *, code: int = 0, status_code: int = 200, **data: Any) -> JSONResponse:
    body = {"code": code, "data": {"accepted": list(accepted), "rejected": list(rejected), **data}}
    return JSONResponse(body, status_code=status_code)


def _st_error(code: int, message: str, status_code: int = 200) -> JSONResponse:
    return _st_answer(code=code, status_code=status_code, errors=[{"code": code, "message": message}])


def _st_request(items: Any, token: str | None) -> list[dict[str, Any]] | JSONResponse:
    if token != life.get_config()["seventeentrack_api_key"]:
        return _st_error(seventeentrack.INVALID_KEY, "Invalid access key.", 401)
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("number"), str)
                                              for i in items):
        return _st_error(seventeentrack.INVALID_FORMAT, "Body must be a list of {number, ...} objects.", 400)
    if len(items) > seventeentrack.MAX_BATCH:
        return _st_error(seventeentrack.TOO_MANY_NUMBERS, "At most 40 numbers per request.")
    return items


@router.post("/17track/track/v2.2/register")
def st_register(items: Any = Body(None), token: str | None = Header(None, alias="17token")):
    checked = _st_request(items, token)
    if isinstance(checked, JSONResponse):
        return checked
    return _st_answer(*life.register_17track(checked))


def _st_each(items: Any, token: str | None, handle) -> JSONResponse:
    checked = _st_request(items, token)
    if isinstance(checked, JSONResponse):
        return checked
    accepted, rejected = [], []
    for item in checked:
        parcel = life.load(ST, item["number"])
        if parcel is None:
            rejected.append(life.rejection(item["number"], seventeentrack.NOT_REGISTERED, "Not registered."))
            continue
        outcome = handle(parcel)
        (rejected if "error" in outcome else accepted).append(outcome)
    return _st_answer(accepted, rejected)


@router.post("/17track/track/v2.2/gettrackinfo")
def st_gettrackinfo(items: Any = Body(None), token: str | None = Header(None, alias="17token")):
    return _st_each(items, token, life.seventeentrack_item)


@router.post("/17track/track/v2.2/stoptrack")
def st_stoptrack(items: Any = Body(None), token: str | None = Header(None, alias="17token")):
    return _st_each(items, token, life.stop_17track)


@router.post("/17track/track/v2.2/retrack")
def st_retrack(items: Any = Body(None), token: str | None = Header(None, alias="17token")):
    return _st_each(items, token, life.retrack_17track)


@router.post("/17track/track/v2.2/getquota")
def st_getquota(body: Any = Body(None), token: str | None = Header(None, alias="17token")):
    if token != life.get_config()["seventeentrack_api_key"]:
        return _st_error(seventeentrack.INVALID_KEY, "Invalid access key.", 401)
    return JSONResponse({"code": 0, "data": life.quota()})


def _as_answer(status_code: int, data: Any, message: str = "OK", code: int | None = None) -> JSONResponse:
    meta = {"code": code or status_code, "message": message, "type": "OK" if status_code < 400 else "BadRequest"}
    return JSONResponse({"meta": meta, "data": data}, status_code=status_code)


def _as_unauthorised(api_key: str | None) -> JSONResponse | None:
    if api_key == life.get_config()["aftership_api_key"]:
        return None
    return _as_answer(401, {}, "Invalid API key.")


@router.post("/aftership/tracking/2026-07/trackings")
def as_create(body: Any = Body(None), api_key: str | None = Header(None, alias="as-api-key")):
    if denied := _as_unauthorised(api_key):
        return denied
    number = body.get("tracking_number") if isinstance(body, dict) else None
    if not isinstance(number, str) or not life.NUMBER.fullmatch(number):
        return _as_answer(400, {}, "tracking_number is required and must be 5-50 letters, digits or -.", 4005)
    if existing := life.load(AS, number):
        return _as_answer(400, {"tracking": life.aftership_tracking(existing)}, "Tracking already exists.",
                          aftership.TRACKING_EXISTS)
    detected = life.detect_carrier(number)
    if not body.get("slug") and detected is None:
        return _as_answer(400, {}, "Cannot detect courier. Activate courier at https://admin.aftership.com/settings/couriers.",
                          aftership.COURIER_NOT_DETECTED)
    parcel = life.new_parcel(AS, number, id=uuid.uuid4().hex, slug=body.get("slug") or detected[1],
                             order_id=body.get("order_id"), custom_fields=body.get("custom_fields"))
    if parcel is None:  # a concurrent twin created it between the check and here
        return _as_answer(400, {}, "Tracking already exists.", aftership.TRACKING_EXISTS)
    return _as_answer(201, life.aftership_tracking(parcel), "Created")


@router.get("/aftership/tracking/2026-07/trackings/{tracking_id}")
def as_get(tracking_id: str, api_key: str | None = Header(None, alias="as-api-key")):
    if denied := _as_unauthorised(api_key):
        return denied
    parcel = life.aftership_by_id(tracking_id)
    if parcel is None:
        return _as_answer(404, {}, "Tracking does not exist.", aftership.TRACKING_NOT_FOUND)
    return _as_answer(200, life.aftership_tracking(parcel))


@router.get("/aftership/tracking/2026-07/trackings")
def as_list(tracking_numbers: str = "", slug: str | None = None,
            api_key: str | None = Header(None, alias="as-api-key")):
    if denied := _as_unauthorised(api_key):
        return denied
    parcels = [life.load(AS, n.strip()) for n in tracking_numbers.split(",") if n.strip()]
    found = [life.aftership_tracking(p) for p in parcels if p and (slug is None or p["slug"] == slug)]
    return _as_answer(200, {"trackings": found, "pagination": {"total": len(found), "has_next_page": False}})


class ParcelPreset(BaseModel):
    number: str
    scenario: str
    webhook_url: str | None = None


class Advance(BaseModel):
    number: str
    provider: str | None = None  # both registrations when omitted
    at: datetime | None = None  # the scan's time; now when omitted


@router.get("/_control/config")
def control_config() -> dict[str, Any]:
    return life.get_config()


@router.post("/_control/config")
def control_set_config(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return life.update_config(changes)


@router.post("/_control/parcels")
def control_preset(preset: ParcelPreset) -> dict[str, Any]:
    return life.set_scenario(preset.number, preset.scenario, preset.webhook_url)


@router.get("/_control/parcels/{number}")
def control_parcel(number: str) -> dict[str, Any]:
    found = {p: life.load(p, number) for p in life.PROVIDERS}
    if not any(found.values()):
        raise HTTPException(404, f"{number} is not registered with any carrier emulator")
    return found


@router.post("/_control/advance")
def control_advance(request: Advance) -> dict[str, Any]:
    if request.at is not None and request.at.tzinfo is None:
        raise HTTPException(422, "at must carry a UTC offset")
    providers = [request.provider] if request.provider else [p for p in life.PROVIDERS if life.load(p, request.number)]
    if not providers or any(p not in life.PROVIDERS for p in providers):
        raise HTTPException(404, f"{request.number} is not registered with {request.provider or 'any emulator'}")
    return {"number": request.number, "results": [life.advance(p, request.number, request.at) for p in providers]}
