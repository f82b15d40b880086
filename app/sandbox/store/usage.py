"""What each shop's Admin GraphQL calls cost, as the emulator charged them: the judge of budget tests.

Totals per shop in a hash, and the last calls (operation, requested and actual cost, bucket level
after the call, throttled or not) in a capped list.
"""

from __future__ import annotations

import json
from typing import Any

from app.redis import get_redis
from app.sandbox.store import state

CALLS_KEPT = 20_000


def _k(domain: str, *parts: str) -> str:
    return state.k("usage", domain, *parts)


def record(domain: str, *, operation: str, requested: int, actual: int | None, available: float,
           throttled: bool) -> None:
    pipe = get_redis().pipeline(transaction=True)
    pipe.hincrby(_k(domain), "calls", 1)
    pipe.hincrby(_k(domain), "throttled", int(throttled))
    pipe.hincrby(_k(domain), "requested", requested)
    pipe.hincrby(_k(domain), "actual", actual or 0)
    pipe.rpush(_k(domain, "calls"), json.dumps({
        "operation": operation, "requested": requested, "actual": actual,
        "available_after": round(available, 1), "throttled": throttled,
    }))
    pipe.ltrim(_k(domain, "calls"), -CALLS_KEPT, -1)
    pipe.execute()


def report(domain: str) -> dict[str, Any]:
    client = get_redis()
    totals = {key.decode(): int(value) for key, value in client.hgetall(_k(domain)).items()}
    calls = [json.loads(raw) for raw in client.lrange(_k(domain, "calls"), 0, -1)]
    return {"shop": domain, "calls": totals.get("calls", 0), "throttled": totals.get("throttled", 0),
            "requested": totals.get("requested", 0), "actual": totals.get("actual", 0), "log": calls}


def reset(domain: str) -> None:
    get_redis().delete(_k(domain), _k(domain, "calls"))
