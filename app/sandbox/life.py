"""The sandbox living on its own in `make run`: parcels move through realistic journeys by
themselves (most delivered, some after a failed attempt, some failed, stalled or sent back, with
varying waits and now and then a long hold), and CJ's stock moves — units sell, variants run low and
are restocked — each change announced the CJ way, as a signed STOCK webhook. Refund webhooks come
from the store emulator itself (refunds/create after every refundCreate or admin refund).

`start` configures the carriers and begins a chain of ticks in the sandbox runner (durable in Redis,
run by whichever web process runs the runner). A new start begins a new chain; the ticks of an
older one (a previous `make run`) find they are stale and stop.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from app.config import get_settings
from app.redis import get_redis, key
from app.sandbox import carrier_life, runner
from app.sandbox.cj import state as cj
from app.sandbox.cj.routes import http_deliver

TICK = "sandbox.life"
CJ_WEBHOOK = "/webhooks/suppliers/cj"
STEP_SECONDS = 45  # a parcel's typical wait between two scans in `make run`
TICK_SECONDS = 60.0  # how often CJ's stock moves


def _chain_key() -> str:
    return key("sandbox", "life", "chain")


def start(*, step_seconds: int = STEP_SECONDS, tick_seconds: float = TICK_SECONDS) -> str:
    carrier_life.update_config({"step_seconds": step_seconds, "default_scenario": carrier_life.MIX})
    # The sandbox CJ account sends its stock news to our CJ webhook, as a merchant who enabled them.
    cj.seed()
    cj.set_callbacks(cj.SANDBOX_API_KEY, {"stock": {"type": "ENABLE",
                                                    "callbackUrls": [get_settings().public_base + CJ_WEBHOOK]}})
    chain = uuid.uuid4().hex
    get_redis().set(_chain_key(), chain)
    runner.schedule(TICK, {"chain": chain, "n": 0, "tick_seconds": tick_seconds}, delay=tick_seconds)
    return chain


def tick(rng: random.Random, deliver: cj.Deliver = http_deliver) -> dict[str, Any]:
    """One moment of the sandbox's life: a CJ variant's stock changes and CJ says so."""
    vid, level, sent = cj.drift_stock(rng, deliver)
    return {"vid": vid, "stock": level, "webhooks": sent}


@runner.handler(TICK)
def _tick(job: dict[str, Any]) -> None:
    current = get_redis().get(_chain_key())
    if current is None or current.decode() != job["chain"]:
        return  # a chain from an earlier start: stand down
    tick(random.Random(f"{job['chain']}:{job['n']}"))
    runner.schedule(TICK, {**job, "n": job["n"] + 1}, delay=float(job["tick_seconds"]))
