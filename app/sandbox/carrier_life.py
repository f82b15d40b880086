"""Sandbox parcels: each lives through a journey and reports it the way 17TRACK and AfterShip do.

State is in Redis under app.redis.key("sandbox", "carriers", ...): one JSON document per
(provider, number), the emulator's configuration and a quota counter. Advancing a parcel appends
the journey's next scan and sends a signed webhook to the configured URL (by default the app's own
receivers, WEBHOOK_PATHS under settings.public_base) through the sandbox's delivery path, which
logs every attempt and retries. With step_seconds > 0 parcels advance by themselves: each scan
schedules the next as a sandbox runner job.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import HTTPException

from app.config import get_settings
from app.db import utcnow
from app.redis import get_redis, key
from app.sandbox import delivery, runner
from app.tracking import numbers
from app.tracking.aggregators import aftership, seventeentrack

NUMBER = re.compile(r"^[A-Za-z0-9-]{5,50}$")
SEVENTEENTRACK = "17track"
AFTERSHIP = "aftership"
PROVIDERS = (SEVENTEENTRACK, AFTERSHIP)
WEBHOOK_PATHS = {SEVENTEENTRACK: "/webhooks/carriers/17track", AFTERSHIP: "/webhooks/carriers/aftership"}
DEFAULTS: dict[str, Any] = {
    "seventeentrack_api_key": "sandbox-17track-key",
    "aftership_api_key": "sandbox-aftership-key",
    "aftership_webhook_secret": "sandbox-aftership-webhook-secret",
    "seventeentrack_webhook_url": None,  # None: settings.public_base + WEBHOOK_PATHS[...]
    "aftership_webhook_url": None,
    "step_seconds": 0,  # > 0: each parcel takes its next scan by itself this long after the last one
    "quota_total": 1000,
    "default_scenario": "delivered",
}


@dataclass(frozen=True)
class Step:
    name: str
    sub_status: str  # 17TRACK; its main status is the part before "_"
    stage: str | None  # 17TRACK milestone
    tag: str  # AfterShip
    subtag: str
    description: str
    city: str
    country: str
    utc_offset: int


_CN, _LA, _CHI = ("Shenzhen", "CN", 8), ("Los Angeles", "US", -8), ("Chicago", "US", -6)
STEPS = {
    s.name: s
    for s in (
        Step("info_received", "InfoReceived", "InfoReceived", "InfoReceived", "InfoReceived_001",
             "Shipment information received, awaiting pickup", *_CN),
        Step("picked_up", "InTransit_PickedUp", "PickedUp", "InTransit", "InTransit_002",
             "Picked up by the carrier", *_CN),
        Step("departed_origin", "InTransit_Departure", "Departure", "InTransit", "InTransit_007",
             "Departed from the origin sorting centre", "Guangzhou", "CN", 8),
        Step("customs", "InTransit_CustomsProcessing", None, "InTransit", "InTransit_006",
             "Handed over to customs for import clearance", *_LA),
        Step("arrived_destination", "InTransit_Arrival", "Arrival", "InTransit", "InTransit_004",
             "Arrived at the destination delivery facility", *_CHI),
        Step("out_for_delivery", "OutForDelivery_Other", "OutForDelivery", "OutForDelivery",
             "OutForDelivery_001", "Out for delivery", *_CHI),
        Step("delivered", "Delivered_Other", "Delivered", "Delivered", "Delivered_001",
             "Delivered, left in the parcel locker", *_CHI),
        Step("delivery_failed", "DeliveryFailure_NoBody", None, "AttemptFail", "AttemptFail_002",
             "Delivery attempted, recipient not available; notice left", *_CHI),
        Step("returning", "Exception_Returning", "Returning", "Exception", "Exception_010",
             "Returning to sender", *_CHI),
        Step("returned", "Exception_Returned", "Returned", "Exception", "Exception_011",
             "Returned to sender", *_CN),
    )
}
_ORIGIN = ["info_received", "picked_up", "departed_origin"]
_TO_DOOR = [*_ORIGIN, "customs", "arrived_destination", "out_for_delivery"]
JOURNEYS: dict[str, list[str]] = {
    "delivered": [*_TO_DOOR, "delivered"],
    "stall": _ORIGIN,  # then no more scans: what a parcel stuck at the origin (or lost) looks like
    "delivery_failure": [*_TO_DOOR, "delivery_failed"],
    # A notice left, then delivered on the second attempt.
    "second_attempt": [*_TO_DOOR, "delivery_failed", "out_for_delivery", "delivered"],
    "returning": [*_TO_DOOR, "delivery_failed", "returning", "returned"],
}
# default_scenario "mix": each new parcel draws its journey with these weights (percent), as a
# sandbox that lives on its own in `make run` should show every kind of parcel.
MIX = "mix"
SCENARIO_MIX = {"delivered": 78, "second_attempt": 8, "delivery_failure": 4, "stall": 5, "returning": 5}
# With step_seconds > 0 a scan's wait varies around it, and now and then a long hold (customs, a
# missed connection) delays a parcel: LONG_HOLD_CHANCE of the steps wait LONG_HOLD_FACTOR times longer.
LONG_HOLD_CHANCE, LONG_HOLD_FACTOR = 0.1, 4


class EmulatorError(HTTPException):
    """Bad control input: FastAPI answers it as {"detail": message} with its status code."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(status_code, message)
        self.message = message


def _k(*parts: str) -> str:
    return key("sandbox", "carriers", *parts)


def get_config() -> dict[str, Any]:
    stored = get_redis().get(_k("config"))
    config = {**DEFAULTS, **(json.loads(stored) if stored else {})}
    base = get_settings().public_base
    for provider, name in ((SEVENTEENTRACK, "seventeentrack"), (AFTERSHIP, "aftership")):
        config[f"{name}_webhook_url"] = config[f"{name}_webhook_url"] or base + WEBHOOK_PATHS[provider]
    return config


def update_config(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(DEFAULTS)
    if unknown:
        raise EmulatorError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if "default_scenario" in changes and changes["default_scenario"] not in (*JOURNEYS, MIX):
        raise EmulatorError(f"scenario must be one of {sorted((*JOURNEYS, MIX))}")
    for name in ("step_seconds", "quota_total"):
        if name in changes and (type(changes[name]) is not int or changes[name] < 0):
            raise EmulatorError(f"{name} must be a whole number >= 0")
    for name in ("seventeentrack_api_key", "aftership_api_key", "aftership_webhook_secret"):
        if name in changes and not (isinstance(changes[name], str) and changes[name]):
            raise EmulatorError(f"{name} must be a non-empty string")
    stored = get_redis().get(_k("config"))
    get_redis().set(_k("config"), json.dumps({**(json.loads(stored) if stored else {}), **changes}))
    return get_config()


def load(provider: str, number: str) -> dict[str, Any] | None:
    raw = get_redis().get(_k("parcel", provider, number))
    return json.loads(raw) if raw else None


def save(parcel: dict[str, Any]) -> None:
    get_redis().set(_k("parcel", parcel["provider"], parcel["number"]), json.dumps(parcel))


def set_scenario(number: str, scenario: str, webhook_url: str | None = None) -> dict[str, Any]:
    """Choose the journey (and optionally a webhook URL) for a number, before or after registration."""
    if scenario not in JOURNEYS:
        raise EmulatorError(f"scenario must be one of {sorted(JOURNEYS)}")
    preset = {"scenario": scenario, **({"webhook_url": webhook_url} if webhook_url else {})}
    get_redis().set(_k("preset", number), json.dumps(preset))
    for provider in PROVIDERS:
        parcel = load(provider, number)
        if parcel:
            save({**parcel, **preset})
    return preset


def new_parcel(provider: str, number: str, **fields: Any) -> dict[str, Any] | None:
    """Register a number with an emulator; None when it already is (SET NX: concurrent twins lose)."""
    raw = get_redis().get(_k("preset", number))
    preset = json.loads(raw) if raw else {}
    parcel = {
        "provider": provider, "number": number, "scenario": _scenario_for(number, get_config()["default_scenario"]),
        "webhook_url": None, "steps": [], "stopped": False, "registered_at": utcnow().isoformat(),
        **preset, **fields,
    }
    if not get_redis().set(_k("parcel", provider, number), json.dumps(parcel), nx=True):
        return None
    if provider == AFTERSHIP:
        get_redis().set(_k("aftership-id", parcel["id"]), number)
    _schedule(parcel)
    return parcel


def aftership_by_id(tracking_id: str) -> dict[str, Any] | None:
    number = get_redis().get(_k("aftership-id", tracking_id))
    return load(AFTERSHIP, number.decode()) if number else None


def _scenario_for(number: str, default: str) -> str:
    """The default journey, or one drawn from SCENARIO_MIX (by the number, so it is repeatable)."""
    if default != MIX:
        return default
    rng = random.Random(f"scenario:{number}")
    return rng.choices(list(SCENARIO_MIX), weights=list(SCENARIO_MIX.values()))[0]


def step_delay(parcel: dict[str, Any], seconds: int) -> float:
    """How long the parcel's next scan waits: around `seconds`, sometimes a long hold."""
    rng = random.Random(f"delay:{parcel['number']}:{len(parcel['steps'])}")
    factor = LONG_HOLD_FACTOR if rng.random() < LONG_HOLD_CHANCE else rng.uniform(0.5, 1.5)
    return seconds * factor


def _schedule(parcel: dict[str, Any]) -> None:
    seconds = int(get_config()["step_seconds"])
    if seconds > 0 and not parcel["stopped"] and _next_step(parcel):
        job = {"provider": parcel["provider"], "number": parcel["number"], "steps": len(parcel["steps"])}
        runner.schedule("carriers.advance", job, delay=step_delay(parcel, seconds))


@runner.handler("carriers.advance")
def _advance_when_due(job: dict[str, Any]) -> None:
    # A job whose parcel moved on since it was scheduled (manual advance, stop) is stale: skip it.
    parcel = load(job["provider"], job["number"])
    if parcel and not parcel["stopped"] and len(parcel["steps"]) == job["steps"]:
        advance(job["provider"], job["number"])


def _next_step(parcel: dict[str, Any]) -> str | None:
    journey = JOURNEYS[parcel["scenario"]]
    done = len(parcel["steps"])
    return journey[done] if done < len(journey) else None


def use_quota() -> bool:
    used = get_redis().incr(_k("quota_used"))
    if used > int(get_config()["quota_total"]):
        get_redis().decr(_k("quota_used"))
        return False
    return True


def quota() -> dict[str, int]:
    total = int(get_config()["quota_total"])
    used = int(get_redis().get(_k("quota_used")) or 0)
    return {"quota_total": total, "quota_used": used, "quota_remain": max(total - used, 0),
            "today_used": used, "max_track_daily": total}


def rejection(number: str, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


# What the emulated aggregators recognise: every number of our own carrier table (app.tracking
# numbers), and postal shapes (two letters, nine digits, two letters) whatever their check digit,
# as 17TRACK and AfterShip do. Keys and slugs are the emulator's stand-ins for theirs.
_POSTAL = re.compile(r"^[A-Z]{2}[0-9]{9}[A-Z]{2}$")
_KEYS = {"s10": (3011, "china-post"), "cj_packet": (190271, "cjpacket"), "cainiao": (190008, "cainiao"),
         "yunexpress": (190012, "yunexpress"), "fourpx": (190094, "4px"), "yanwen": (190112, "yanwen"),
         "ups": (100002, "ups"), "fedex": (100003, "fedex"), "usps": (21051, "usps"), "dhl": (100001, "dhl")}


def detect_carrier(number: str) -> tuple[int, str] | None:
    """(17TRACK carrier key, AfterShip slug) of a number the emulators recognise, else None."""
    found = numbers.validate(number)
    if found is not None:
        return _KEYS.get(found.carrier, (900000 + len(found.carrier), found.carrier.replace("_", "-")))
    return _KEYS["s10"] if _POSTAL.fullmatch(numbers.normalise(number)) else None


def _carrier(item: dict[str, Any], number: str) -> int:
    return item["carrier"] if isinstance(item.get("carrier"), int) else detect_carrier(number)[0]


def register_17track(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """17TRACK `register`: (accepted, rejected) entries for a checked batch of {number, ...} items."""
    accepted, rejected = [], []
    for item in items:
        number = item["number"]
        if not NUMBER.fullmatch(number):
            rejected.append(rejection(number, seventeentrack.INVALID_FORMAT, "Invalid tracking number format."))
        elif load(SEVENTEENTRACK, number):
            rejected.append(rejection(number, seventeentrack.ALREADY_REGISTERED, "Already registered."))
        elif not isinstance(item.get("carrier"), int) and detect_carrier(number) is None:
            rejected.append(rejection(number, seventeentrack.CARRIER_NOT_DETECTED, "The carrier cannot be detected."))
        elif not use_quota():
            rejected.append(rejection(number, seventeentrack.QUOTA_EXHAUSTED, "Quota exhausted."))
        elif not new_parcel(SEVENTEENTRACK, number, carrier=(carrier := _carrier(item, number)), tag=item.get("tag"),
                            param=item.get("param")):
            get_redis().decr(_k("quota_used"))  # a concurrent twin registered it first
            rejected.append(rejection(number, seventeentrack.ALREADY_REGISTERED, "Already registered."))
        else:
            accepted.append({"origin": 1, "number": number, "carrier": carrier, "tag": item.get("tag")})
    return accepted, rejected


def stop_17track(parcel: dict[str, Any]) -> dict[str, Any]:
    """17TRACK `stoptrack` of one parcel; the first stop sends TRACKING_STOPPED, a repeat is a no-op."""
    if not parcel["stopped"]:
        parcel = {**parcel, "stopped": True}
        save(parcel)
        _schedule(parcel)
        deliver(parcel, "TRACKING_STOPPED")
    return {"number": parcel["number"], "carrier": parcel["carrier"]}


def retrack_17track(parcel: dict[str, Any]) -> dict[str, Any]:
    if not parcel["stopped"]:
        return rejection(parcel["number"], seventeentrack.RETRACK_NOT_STOPPED, "Only stopped numbers can be retracked.")
    parcel = {**parcel, "stopped": False}
    save(parcel)
    _schedule(parcel)
    return {"number": parcel["number"], "carrier": parcel["carrier"]}


def _times(at: datetime, step: Step) -> tuple[str, str]:
    local = at.astimezone(timezone(timedelta(hours=step.utc_offset)))
    return local.isoformat(timespec="seconds"), at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _17track_event(step: Step, at: datetime) -> dict[str, Any]:
    time_iso, time_utc = _times(at, step)
    return {
        "time_iso": time_iso, "time_utc": time_utc,
        "time_raw": {"date": time_iso[:10], "time": time_iso[11:19], "timezone": time_iso[19:]},
        "description": step.description, "location": f"{step.city}, {step.country}",
        "stage": step.stage, "sub_status": step.sub_status,
        "address": {"country": step.country, "state": None, "city": step.city, "street": None,
                    "postal_code": None, "coordinates": {"longitude": None, "latitude": None}},
    }


def track_info(parcel: dict[str, Any]) -> dict[str, Any]:
    """The 17TRACK `track_info` object of a parcel as it stands."""
    done = [(STEPS[name], datetime.fromisoformat(at)) for name, at in parcel["steps"]]
    events = [_17track_event(step, at) for step, at in reversed(done)]  # newest first, as 17TRACK
    last = done[-1][0] if done else None
    sub_status = last.sub_status if last else "NotFound_Other"
    return {
        "shipping_info": {"shipper_address": {"country": "CN"}, "recipient_address": {"country": "US"}},
        "latest_status": {"status": sub_status.split("_")[0], "sub_status": sub_status, "sub_status_descr": None},
        "latest_event": events[0] if events else None,
        "time_metrics": {"days_of_transit": (done[-1][1] - done[0][1]).days if done else 0},
        "milestone": [{"key_stage": s.stage, "time_iso": e["time_iso"], "time_utc": e["time_utc"]}
                      for (s, _), e in zip(done, reversed(events), strict=True) if s.stage],
        "tracking": {"providers": [{
            "provider": {"key": parcel.get("carrier"), "name": "Sandbox Post", "country": "CN"},
            "latest_sync_status": "Success", "events": events,
        }]},
    }


def seventeentrack_item(parcel: dict[str, Any], *, with_info: bool = True) -> dict[str, Any]:
    item = {"number": parcel["number"], "carrier": parcel.get("carrier"), "param": parcel.get("param"),
            "tag": parcel.get("tag")}
    return {**item, "track_info": track_info(parcel)} if with_info else item


def aftership_tracking(parcel: dict[str, Any]) -> dict[str, Any]:
    """The AfterShip tracking object of a parcel as it stands."""
    checkpoints = []
    for name, at in parcel["steps"]:
        step = STEPS[name]
        time_iso, _ = _times(datetime.fromisoformat(at), step)
        checkpoints.append({
            "slug": parcel["slug"], "checkpoint_time": time_iso, "created_at": at,
            "location": f"{step.city}, {step.country}", "city": step.city, "state": None, "zip": None,
            "country_region": "CHN" if step.country == "CN" else "USA", "message": step.description,
            "tag": step.tag, "subtag": step.subtag, "subtag_message": step.description, "raw_tag": step.name,
        })
    last = STEPS[parcel["steps"][-1][0]] if parcel["steps"] else None
    return {
        "id": parcel["id"], "tracking_number": parcel["number"], "slug": parcel["slug"],
        "active": not parcel["stopped"], "created_at": parcel["registered_at"],
        "updated_at": parcel["steps"][-1][1] if parcel["steps"] else parcel["registered_at"],
        "tag": last.tag if last else "Pending", "subtag": last.subtag if last else "Pending_001",
        "subtag_message": last.description if last else "Pending",
        "order_id": parcel.get("order_id"), "custom_fields": parcel.get("custom_fields"),
        "origin_country_region": "CHN", "destination_country_region": "USA", "checkpoints": checkpoints,
    }


def _webhook(parcel: dict[str, Any], config: dict[str, Any], event: str) -> tuple[str, bytes, dict[str, str]]:
    if parcel["provider"] == SEVENTEENTRACK:
        data = seventeentrack_item(parcel, with_info=event == "TRACKING_UPDATED")
        body = json.dumps({"event": event, "data": data}).encode()
        headers = {seventeentrack.SIGN_HEADER: seventeentrack.sign(body, config["seventeentrack_api_key"])}
        url = parcel.get("webhook_url") or config["seventeentrack_webhook_url"]
    else:
        tracking = aftership_tracking(parcel)
        tags = [STEPS[name].tag for name, _ in parcel["steps"]]
        first = len(tags) < 2 or tags[-1] not in tags[:-1]
        body = json.dumps({"event": "tracking_update", "event_id": str(uuid.uuid4()),
                           "is_tracking_first_tag": first, "msg": tracking, "ts": int(utcnow().timestamp())}).encode()
        headers = {aftership.HMAC_HEADER: aftership.sign(body, config["aftership_webhook_secret"])}
        url = parcel.get("webhook_url") or config["aftership_webhook_url"]
    return url, body, {"Content-Type": "application/json", **headers}


CARRIER_BACKOFF = [1.0, 4.0, 16.0]  # compressed: carriers retry failed webhooks for hours


def deliver(parcel: dict[str, Any], event: str = "TRACKING_UPDATED") -> dict[str, Any]:
    """Send the parcel's current state as a signed webhook (retried by the runner if refused)."""
    url, body, headers = _webhook(parcel, get_config(), event)
    label = f"{parcel['provider']} {event} {parcel['number']}"
    sent = delivery.send_sync(delivery.Delivery(url, body.decode(), headers, "carrier", label,
                                                backoff=CARRIER_BACKOFF))
    return {"provider": parcel["provider"], "url": url, "delivered": sent}


def advance(provider: str, number: str, at: datetime | None = None) -> dict[str, Any]:
    """Append the journey's next scan and send its webhook; a stalled or finished parcel sends nothing."""
    with get_redis().lock(_k("lock", provider, number), timeout=30, blocking_timeout=15):
        parcel = load(provider, number)
        if parcel is None:
            raise EmulatorError(f"{number} is not registered with {provider}", 404)
        step = _next_step(parcel)
        if parcel["stopped"] or step is None:
            reason = "stopped" if parcel["stopped"] else ("stalled" if parcel["scenario"] == "stall" else "finished")
            return {"provider": provider, "sent": False, "reason": reason}
        parcel["steps"].append([step, (at or utcnow()).isoformat()])
        save(parcel)
        _schedule(parcel)
        return {"sent": True, "step": step, **deliver(parcel)}
