"""The sandbox 17TRACK and AfterShip emulators, driven by our own clients, sending real signed webhooks."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import get_settings
from app.sandbox import carrier_life, carriers, delivery, runner
from app.tracking.aggregators import AggregatorError, Unauthorised
from app.tracking.aggregators import aftership as af
from app.tracking.aggregators import seventeentrack as st
from app.tracking.statuses import Reason, Status
from tests.fixtures import wait_for

ST_KEY = carrier_life.DEFAULTS["seventeentrack_api_key"]
AS_KEY = carrier_life.DEFAULTS["aftership_api_key"]
AS_SECRET = carrier_life.DEFAULTS["aftership_webhook_secret"]
BASE = "http://testserver/sandbox/carriers"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def sandbox():
    app = FastAPI()
    app.include_router(carriers.router, prefix="/sandbox/carriers")
    with TestClient(app) as client:
        yield client


class Receiver:
    """A real HTTP server standing in for our webhook routes; keeps what it was sent."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def number() -> str:
    return f"RR{uuid.uuid4().int % 10**9:09d}CN"


def st_client(sandbox, key=ST_KEY) -> st.SeventeenTrackClient:
    return st.SeventeenTrackClient(key, base_url=f"{BASE}/17track/track/v2.2", http=sandbox)


def as_client(sandbox, key=AS_KEY) -> af.AfterShipClient:
    return af.AfterShipClient(key, base_url=f"{BASE}/aftership/tracking/2026-07", http=sandbox)


def preset(sandbox, tracking_number, scenario, url):
    answer = sandbox.post(f"{BASE}/_control/parcels",
                          json={"number": tracking_number, "scenario": scenario, "webhook_url": url})
    assert answer.status_code == 200, answer.text


def advance(sandbox, tracking_number, step, provider=None):
    body = {"number": tracking_number, "at": (T0 + timedelta(hours=step)).isoformat()}
    answer = sandbox.post(f"{BASE}/_control/advance", json={**body, **({"provider": provider} if provider else {})})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def st_updates(receiver):
    updates = []
    for path, headers, body in receiver.received:
        assert path == "/hook/17" and headers["content-type"] == "application/json"
        assert st.verify_signature(body, headers["sign"], ST_KEY)
        updates.append(st.parse_webhook(body))
    return updates


JOURNEY = [Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT,
           Status.OUT_FOR_DELIVERY, Status.DELIVERED]


def test_17track_parcel_life_sends_signed_tracking_updated_webhooks(sandbox, receiver):
    n = number()
    preset(sandbox, n, "delivered", receiver.url + "/hook/17")
    envelope = st_client(sandbox).register([st.RegisterItem(n, tag="shipment-1")])
    assert envelope.accepted_numbers == [n] and envelope.accepted[0]["carrier"] == 3011
    updates, _ = st_client(sandbox).get_track_info([n])
    assert updates[0].latest.status == Status.PENDING and updates[0].events == ()

    results = [advance(sandbox, n, step)[0] for step in range(len(JOURNEY))]
    assert all(r["sent"] and r["delivered"] for r in results)
    assert [r["step"] for r in results] == carrier_life.JOURNEYS["delivered"]
    assert advance(sandbox, n, 99) == [{"provider": "17track", "sent": False, "reason": "finished"}]

    updates = st_updates(receiver)
    assert [u.latest.status for u in updates] == JOURNEY
    assert updates[3].latest.reason == Reason.CUSTOMS_PROCESSING
    assert all(u.event == "TRACKING_UPDATED" and u.tag == "shipment-1" and u.number == n for u in updates)
    last = updates[-1]
    assert [e.time for e in last.events] == [T0 + timedelta(hours=h) for h in range(7)]
    assert [e.normalised.status for e in last.events] == JOURNEY
    assert last.events[0].location == "Shenzhen, CN" and last.events[-1].location == "Chicago, US"
    fetched, rejected = st_client(sandbox).get_track_info([n])
    assert rejected == [] and fetched[0].latest == last.latest and fetched[0].events == last.events


def test_aftership_parcel_life_sends_signed_tracking_update_webhooks(sandbox, receiver):
    n = number()
    created = as_client(sandbox).create_tracking(n, slug="china-post", order_id="shipment-2")
    assert created.latest.status == Status.PENDING and created.provider_id
    preset(sandbox, n, "delivered", receiver.url + "/hook/as")  # after registration works too
    for step in range(len(JOURNEY)):
        advance(sandbox, n, step, provider="aftership")

    updates, first_tags = [], []
    for path, headers, body in receiver.received:
        assert path == "/hook/as" and af.verify_signature(body, headers["aftership-hmac-sha256"], AS_SECRET)
        updates.append(af.parse_webhook(body))
        first_tags.append(json.loads(body)["is_tracking_first_tag"])
    assert [u.latest.status for u in updates] == JOURNEY
    assert first_tags == [True, True, False, False, False, True, True]
    assert len({u.event_id for u in updates}) == len(JOURNEY)
    assert all(u.provider_id == created.provider_id and u.tag == "shipment-2" for u in updates)
    fetched = as_client(sandbox).get_tracking(created.provider_id)
    assert fetched.latest.status == Status.DELIVERED and fetched.events == updates[-1].events
    assert fetched.events[3].normalised.reason == Reason.CUSTOMS_PROCESSING


@pytest.mark.parametrize(
    ("scenario", "statuses", "end"),
    [
        ("stall", JOURNEY[:3], "stalled"),
        ("delivery_failure", [*JOURNEY[:6], Status.DELIVERY_FAILED], "finished"),
        ("returning", [*JOURNEY[:6], Status.DELIVERY_FAILED, Status.RETURNING, Status.RETURNED], "finished"),
    ],
)
def test_scenarios(sandbox, receiver, scenario, statuses, end):
    n = number()
    preset(sandbox, n, scenario, receiver.url + "/hook/17")
    st_client(sandbox).register([n])
    for step in range(len(statuses)):
        assert advance(sandbox, n, step)[0]["sent"]
    assert advance(sandbox, n, 50)[0] == {"provider": "17track", "sent": False, "reason": end}
    assert [u.latest.status for u in st_updates(receiver)] == statuses


def test_advance_moves_every_registration_of_the_number(sandbox, receiver):
    n = number()
    preset(sandbox, n, "delivered", receiver.url + "/hook/any")
    st_client(sandbox).register([n])
    as_client(sandbox).create_tracking(n)
    results = advance(sandbox, n, 0)
    assert sorted(r["provider"] for r in results) == ["17track", "aftership"]
    assert len(receiver.received) == 2
    state = sandbox.get(f"{BASE}/_control/parcels/{n}").json()
    assert state["17track"]["steps"][0][0] == state["aftership"]["steps"][0][0] == "info_received"


def test_stoptrack_sends_tracking_stopped_and_retrack_resumes(sandbox, receiver):
    n = number()
    preset(sandbox, n, "delivered", receiver.url + "/hook/17")
    client = st_client(sandbox)
    client.register([n])
    advance(sandbox, n, 0)
    assert client.retrack([n]).rejected_with(st.RETRACK_NOT_STOPPED) == [n]
    assert client.stop_track([n]).accepted_numbers == [n]
    stopped = st_updates(receiver)[-1]
    assert stopped.event == "TRACKING_STOPPED" and stopped.stopped and stopped.latest is None
    assert advance(sandbox, n, 1)[0]["reason"] == "stopped"
    assert client.retrack([n]).accepted_numbers == [n]
    assert advance(sandbox, n, 1)[0]["step"] == "picked_up"


def test_17track_answers_like_17track(sandbox):
    n = number()
    client = st_client(sandbox)
    client.register([n])
    again = client.register([n, "bad number!"])
    assert again.rejected_with(st.ALREADY_REGISTERED) == [n]
    assert again.rejected_with(st.INVALID_FORMAT) == ["bad number!"]
    _, rejected = client.get_track_info([number()])
    assert rejected[0].code == st.NOT_REGISTERED
    with pytest.raises(Unauthorised):
        st_client(sandbox, key="wrong").get_quota()
    too_many = sandbox.post(f"{BASE}/17track/track/v2.2/register", headers={"17token": ST_KEY},
                            json=[{"number": number()} for _ in range(41)])
    assert too_many.status_code == 200 and too_many.json()["code"] == st.TOO_MANY_NUMBERS
    with pytest.raises(AggregatorError) as caught:
        client._post("register", [{"number": number()} for _ in range(41)])
    assert caught.value.code == st.TOO_MANY_NUMBERS
    malformed = sandbox.post(f"{BASE}/17track/track/v2.2/register", headers={"17token": ST_KEY}, json={"number": 1})
    assert malformed.status_code == 400 and malformed.json()["data"]["errors"][0]["code"] == st.INVALID_FORMAT


def test_concurrent_registrations_of_one_number_register_it_once(sandbox):
    n = number()
    before = st_client(sandbox).get_quota().used
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: carrier_life.register_17track([{"number": n}]), range(8)))
    assert sum(len(accepted) for accepted, _ in answers) == 1
    assert all(r["error"]["code"] == st.ALREADY_REGISTERED for _, rejected in answers for r in rejected)
    assert st_client(sandbox).get_quota().used == before + 1


def test_quota_is_counted_and_enforced(sandbox):
    client = st_client(sandbox)
    before = client.get_quota()
    client.register([number()])
    after = client.get_quota()
    assert (after.used, after.remaining) == (before.used + 1, before.remaining - 1)
    try:
        sandbox.post(f"{BASE}/_control/config", json={"quota_total": after.used}).raise_for_status()
        n = number()
        assert client.register([n]).rejected_with(st.QUOTA_EXHAUSTED) == [n]
        assert client.get_quota().remaining == 0
    finally:
        sandbox.post(f"{BASE}/_control/config", json={"quota_total": carrier_life.DEFAULTS["quota_total"]})


def test_aftership_answers_like_aftership(sandbox):
    with pytest.raises(Unauthorised):
        as_client(sandbox, key="wrong").create_tracking(number())
    with pytest.raises(AggregatorError) as caught:
        as_client(sandbox).get_tracking("no-such-id")
    assert caught.value.code == af.TRACKING_NOT_FOUND
    bad = sandbox.post(f"{BASE}/aftership/tracking/2026-07/trackings", headers={"as-api-key": AS_KEY}, json={})
    assert bad.status_code == 400 and "tracking_number" in bad.json()["meta"]["message"]
    n = number()
    first = as_client(sandbox).create_tracking(n)
    assert as_client(sandbox).create_tracking(n).provider_id == first.provider_id  # duplicate -> existing
    assert as_client(sandbox).find_tracking(n, slug="another-carrier") is None


def test_webhook_urls_default_to_the_app_and_a_dead_receiver_is_reported(sandbox):
    config = sandbox.get(f"{BASE}/_control/config").json()
    base = get_settings().public_base
    assert config["seventeentrack_webhook_url"] == base + "/webhooks/carriers/17track"
    assert config["aftership_webhook_url"] == base + "/webhooks/carriers/aftership"
    n = number()
    preset(sandbox, n, "delivered", "http://127.0.0.1:9/nobody-listens")
    st_client(sandbox).register([n])
    result = advance(sandbox, n, 0)[0]
    assert result["sent"] and result["delivered"] is False
    # The scan happened all the same; the refused delivery is logged (and retried by the runner).
    assert sandbox.get(f"{BASE}/_control/parcels/{n}").json()["17track"]["steps"][0][0] == "info_received"
    attempts = [a for a in delivery.recent_attempts() if n in a["label"]]
    assert attempts[0]["label"] == f"17track TRACKING_UPDATED {n}" and attempts[0]["error"]


def test_with_step_seconds_parcels_advance_by_themselves(sandbox, receiver):
    runner.ensure_runner()  # what the sandbox app does on its first request
    try:
        sandbox.post(f"{BASE}/_control/config", json={"step_seconds": 1}).raise_for_status()
        n = number()
        preset(sandbox, n, "delivered", receiver.url + "/hook/17")
        st_client(sandbox).register([n])
        assert receiver.received == []  # nothing before the first step is due
        wait_for(lambda: len(receiver.received) >= 2, timeout=15, message="two scheduled scans")
    finally:
        sandbox.post(f"{BASE}/_control/config", json={"step_seconds": 0})
    assert [u.latest.status for u in st_updates(receiver)][:2] == [Status.INFO_RECEIVED, Status.IN_TRANSIT]
    st_client(sandbox).stop_track([n])


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/_control/parcels", {"number": "RR1CN", "scenario": "teleport"}, 400),
        ("post", "/_control/config", {"webhook_secret": "x"}, 400),
        ("post", "/_control/config", {"default_scenario": "teleport"}, 400),
        ("post", "/_control/config", {"step_seconds": "soon"}, 400),
        ("post", "/_control/config", {"quota_total": -1}, 400),
        ("post", "/_control/config", {"aftership_webhook_secret": ""}, 400),
        ("post", "/_control/advance", {"number": "RR000000000XX"}, 404),
        ("post", "/_control/advance", {"number": "RR000000000XX", "provider": "dhl"}, 404),
        ("post", "/_control/advance", {"number": "RR000000000XX", "at": "2026-11-20T08:00:00"}, 422),
        ("post", "/_control/advance", {}, 422),
        ("get", "/_control/parcels/RR000000000XX", None, 404),
    ],
)
def test_control_rejects_bad_input_with_a_reason(sandbox, method, path, body, status):
    answer = getattr(sandbox, method)(f"{BASE}{path}", **({"json": body} if body is not None else {}))
    assert answer.status_code == status and answer.json()["detail"]
