"""The sandbox lives on its own in `make run`: parcels advance through mixed journeys by themselves,
and CJ's stock moves, each change sent as a signed STOCK webhook our CJ stock reader understands."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter

import pytest

from app.config import get_settings
from app.redis import get_redis
from app.sandbox import carrier_life, life, runner
from app.sandbox.cj import state as cj
from app.sandbox.cj.routes import http_deliver
from app.suppliers.cj_stock import stock_levels
from app.tracking.aggregators import seventeentrack
from tests.fixtures import wait_for
from tests.sandbox.receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def lively():
    """Carriers as `make run` configures them, put back afterwards (the config is per run)."""
    runner.ensure_runner()
    yield
    carrier_life.update_config({"step_seconds": 0, "default_scenario": "delivered"})


def test_cj_stock_moves_and_each_change_arrives_as_a_signed_stock_webhook(receiver):
    cj.seed()
    cj.set_callbacks(cj.SANDBOX_API_KEY, {"stock": {"type": "ENABLE", "callbackUrls": [receiver.url + "/cj"]}})
    try:
        ticks = [life.tick(random.Random(n), http_deliver) for n in range(4)]
        received = receiver.wait_for(4)
    finally:
        get_redis().hdel(cj.state_key("callbacks", cj.SANDBOX_API_KEY), "stock")
    open_id = str(cj.SANDBOX_OPEN_ID)
    for sent, request in zip(ticks, received, strict=True):
        assert request.header("sign") == cj.sign_body(request.body, open_id)  # CJ's signature
        message = json.loads(request.body)
        assert (message["type"], message["openId"]) == ("STOCK", cj.SANDBOX_OPEN_ID)
        levels, problems = stock_levels(message["params"])
        assert problems == [] and levels == {sent["vid"]: sent["stock"]}  # what our reader takes from it
        assert sent["webhooks"][0]["status"] == 200
    assert cj.stock_by_vid(ticks[-1]["vid"])[0]["totalInventoryNum"] == ticks[-1]["stock"]


def test_parcels_advance_by_themselves_through_mixed_journeys(receiver, lively):
    carrier_life.update_config({"step_seconds": 1, "default_scenario": carrier_life.MIX})
    numbers = [f"LP{uuid.uuid4().int % 10**13:013d}CN" for _ in range(6)]
    for number in numbers:
        assert carrier_life.new_parcel(carrier_life.SEVENTEENTRACK, number, webhook_url=receiver.url + "/17") is not None

    def advanced() -> bool:
        parcels = [carrier_life.load(carrier_life.SEVENTEENTRACK, n) for n in numbers]
        return all(len(p["steps"]) >= 3 for p in parcels)

    wait_for(advanced, timeout=60, message="every parcel's first three scans, taken by itself")
    received = receiver.wait_for(len(numbers) * 3)
    assert {json.loads(r.body)["data"]["number"] for r in received} == set(numbers)
    key = carrier_life.get_config()["seventeentrack_api_key"]
    assert all(r.header(seventeentrack.SIGN_HEADER) == seventeentrack.sign(r.body, key) for r in received)
    for number in numbers:  # in its journey's order, never backwards
        parcel = carrier_life.load(carrier_life.SEVENTEENTRACK, number)
        journey = carrier_life.JOURNEYS[parcel["scenario"]]
        assert [name for name, _ in parcel["steps"]] == journey[:len(parcel["steps"])]


def test_the_mix_has_every_kind_of_journey_and_waits_that_vary():
    drawn = Counter(carrier_life._scenario_for(f"N{i}", carrier_life.MIX) for i in range(2000))
    assert set(drawn) == set(carrier_life.SCENARIO_MIX)
    assert 0.7 < drawn["delivered"] / 2000 < 0.86  # most parcels arrive
    assert carrier_life._scenario_for("N1", carrier_life.MIX) == carrier_life._scenario_for("N1", carrier_life.MIX)
    parcel = {"number": "N1", "steps": []}
    waits = [carrier_life.step_delay({**parcel, "steps": [None] * i}, 10) for i in range(200)]
    assert min(waits) >= 5 and max(waits) == 40 and len(set(waits)) > 100  # some long holds


def test_a_new_start_makes_the_previous_chain_stand_down(lively, monkeypatch):
    ticked = []
    monkeypatch.setattr(life, "tick", lambda rng, deliver=None: ticked.append(rng))
    monkeypatch.setattr(life.runner, "schedule", lambda *args, **kwargs: "job")  # no durable job left behind
    old = life.start(tick_seconds=3600)
    new = life.start(tick_seconds=3600)
    assert carrier_life.get_config()["default_scenario"] == carrier_life.MIX
    assert carrier_life.get_config()["step_seconds"] == life.STEP_SECONDS
    subscribed = get_redis().hget(cj.state_key("callbacks", cj.SANDBOX_API_KEY), "stock")
    assert json.loads(subscribed) == [get_settings().public_base + "/webhooks/suppliers/cj"]
    life._tick({"chain": old, "n": 0, "tick_seconds": 3600})
    assert ticked == []
    life._tick({"chain": new, "n": 0, "tick_seconds": 3600})
    assert len(ticked) == 1
    get_redis().hdel(cj.state_key("callbacks", cj.SANDBOX_API_KEY), "stock")
