"""AfterShip: webhook HMAC (known answer), payload parsing, and the small client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from app.tracking.aggregators import AggregatorError, PayloadError, Unauthorised
from app.tracking.aggregators import aftership as af
from app.tracking.statuses import Provider, Reason, Status

BODY = b'{"event":"tracking_update","msg":{"tracking_number":"RR123456789CN"}}'
SECRET = "whsec-abc"
EXPECTED = "CgSXl1h5069Hs+HNYhPLag7NzUoHHutJqHWpbE5Pkkw="


def test_signature_known_answer_step_by_step():
    # Step 1: HMAC-SHA256 keyed with the webhook secret over the raw body, as raw bytes.
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    assert digest.hex() == "0a0497975879d3af47b3e1cd6213cb6a0ecdcd4a071eeb49a875a96c4e4f924c"
    # Step 2: standard base64 of those bytes. Pinned value cross-checked with
    # `printf '%s' '<body>' | openssl dgst -sha256 -hmac whsec-abc -binary | base64`.
    assert base64.b64encode(digest).decode() == EXPECTED
    assert af.sign(BODY, SECRET) == EXPECTED
    assert af.verify_signature(BODY, EXPECTED, SECRET)
    assert af.HMAC_HEADER == "aftership-hmac-sha256"


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (BODY + b" ", EXPECTED, SECRET),
        (BODY, EXPECTED, "whsec-abd"),
        (BODY, EXPECTED.lower(), SECRET),  # base64 is case-sensitive
        (BODY, None, SECRET),
        (BODY, "ü", SECRET),
        (BODY, EXPECTED, ""),
    ],
)
def test_signature_rejects_tampering_wrong_secret_and_junk(body, header, secret):
    assert not af.verify_signature(body, header, secret)


def _checkpoint(time, tag, subtag, message, **extra):
    return {"checkpoint_time": time, "tag": tag, "subtag": subtag, "message": message, "slug": "usps", **extra}


TRACKING = {
    "id": "a1b2c3", "tracking_number": "9400111899223197428490", "slug": "usps", "active": True,
    "tag": "Exception", "subtag": "Exception_011", "subtag_message": "Returned to sender", "order_id": "shipment-7",
    "checkpoints": [
        _checkpoint("2026-11-18T10:00:00+08:00", "InTransit", "InTransit_002", "Accepted",
                    location="Shenzhen, CN"),
        _checkpoint("2026-11-25T09:30:00", "AttemptFail", "AttemptFail_002", "Notice left",
                    city="Chicago", state="IL", country_region="USA"),
        _checkpoint("2026-11-27T12:00:00-06:00", "Exception", "Exception_011", "Returned to sender"),
        _checkpoint(None, None, None, "Label note"),
    ],
}


def test_parse_webhook():
    body = json.dumps({"event": "tracking_update", "event_id": "ev-1", "is_tracking_first_tag": True,
                       "msg": TRACKING, "ts": 1764000000}).encode()
    update = af.parse_webhook(body)
    assert (update.provider, update.number, update.carrier, update.provider_id, update.tag) == (
        "aftership", "9400111899223197428490", "usps", "a1b2c3", "shipment-7")
    assert (update.event, update.event_id, update.stopped) == ("tracking_update", "ev-1", False)
    assert update.latest.status == Status.RETURNED and update.latest.provider == Provider.AFTERSHIP
    assert [e.description for e in update.events] == ["Label note", "Accepted", "Notice left", "Returned to sender"]
    note, accepted, failed, returned = update.events
    assert note.time is None and note.normalised is None
    assert accepted.location == "Shenzhen, CN" and accepted.time == datetime(2026, 11, 18, 2, tzinfo=UTC)
    assert failed.location == "Chicago, IL, USA" and failed.raw_status == "AttemptFail_002"
    assert failed.normalised.status == Status.DELIVERY_FAILED
    assert failed.normalised.reason == Reason.RECIPIENT_UNAVAILABLE
    assert failed.time == datetime(2026, 11, 25, 9, 30, tzinfo=UTC) and failed.time_raw == "2026-11-25T09:30:00"
    assert returned.normalised.status == Status.RETURNED
    assert update.latest_event is returned


def test_inactive_tracking_is_stopped():
    assert af.parse_tracking({**TRACKING, "active": False}).stopped


@pytest.mark.parametrize(
    "body",
    [
        b"nope", b"[1]", b'{"event":"tracking_update"}', b'{"event":"edd_revise","msg":{"tracking_number":"1"}}',
        b'{"event":"tracking_update","msg":{"slug":"usps"}}',
        b'{"event":"tracking_update","msg":{"tracking_number":"1","checkpoints":{}}}',
    ],
)
def test_malformed_webhooks_raise_payload_error(body):
    with pytest.raises(PayloadError):
        af.parse_webhook(body)


class FakeAfterShip:
    """An httpx transport speaking AfterShip's envelope; remembers requests."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self.trackings: dict[str, dict] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("as-api-key") != "as-key":
            return httpx.Response(401, json={"meta": {"code": 401, "message": "Invalid API key."}, "data": {}})
        path = request.url.path.removeprefix("/tracking/2026-07")
        if request.method == "POST" and path == "/trackings":
            body = json.loads(request.content)
            if body["tracking_number"] in {t["tracking_number"] for t in self.trackings.values()}:
                return httpx.Response(400, json={"meta": {"code": 4003, "message": "Tracking already exists."},
                                                 "data": {}})
            tracking = {"id": f"id-{len(self.trackings)}", "tag": "Pending", "subtag": "Pending_001",
                        "checkpoints": [], **body}
            self.trackings[tracking["id"]] = tracking
            return httpx.Response(201, json={"meta": {"code": 201}, "data": tracking})
        if request.method == "GET" and path == "/trackings":
            wanted = request.url.params["tracking_numbers"]
            found = [t for t in self.trackings.values() if t["tracking_number"] == wanted]
            return httpx.Response(200, json={"meta": {"code": 200}, "data": {"trackings": found}})
        if request.method == "GET" and path.startswith("/trackings/"):
            tracking = self.trackings.get(path.rsplit("/", 1)[1])
            if tracking is None:
                return httpx.Response(404, json={"meta": {"code": 4004, "message": "Tracking does not exist."},
                                                 "data": {}})
            # Older API versions wrap it: both shapes are read.
            return httpx.Response(200, json={"meta": {"code": 200}, "data": {"tracking": tracking}})
        return httpx.Response(500, text="unexpected")

    def client(self, key="as-key") -> af.AfterShipClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return af.AfterShipClient(key, base_url="https://as.test/tracking/2026-07/", http=http)


def test_create_and_get_tracking():
    fake = FakeAfterShip()
    client = fake.client()
    created = client.create_tracking("RR1CN", slug="china-post", order_id="shipment-1", custom_fields={"a": "b"})
    request = fake.requests[0]
    assert (request.method, str(request.url)) == ("POST", "https://as.test/tracking/2026-07/trackings")
    assert request.headers["as-api-key"] == "as-key"
    assert json.loads(request.content) == {"tracking_number": "RR1CN", "slug": "china-post",
                                           "order_id": "shipment-1", "custom_fields": {"a": "b"}}
    assert (created.provider_id, created.number, created.tag) == ("id-0", "RR1CN", "shipment-1")
    assert created.latest.status == Status.PENDING and created.events == ()
    fetched = client.get_tracking("id-0")
    assert fake.requests[-1].url.path == "/tracking/2026-07/trackings/id-0"
    assert fetched.provider_id == "id-0" and fetched.carrier == "china-post"


def test_create_again_returns_the_existing_tracking():
    fake = FakeAfterShip()
    client = fake.client()
    first = client.create_tracking("RR1CN")
    second = client.create_tracking("RR1CN")  # a retry after a lost answer
    assert second.provider_id == first.provider_id
    assert [r.method for r in fake.requests] == ["POST", "POST", "GET"]
    assert fake.requests[-1].url.params["tracking_numbers"] == "RR1CN"
    assert client.find_tracking("RR404CN") is None


def test_errors():
    fake = FakeAfterShip()
    with pytest.raises(Unauthorised) as caught:
        fake.client("wrong").get_tracking("id-0")
    assert caught.value.status_code == 401
    with pytest.raises(AggregatorError) as caught:
        fake.client().get_tracking("missing")
    assert (caught.value.status_code, caught.value.code, caught.value.retryable) == (404, 4004, False)
    assert "Tracking does not exist." in caught.value.message
    down = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(503, text="down")))
    with pytest.raises(AggregatorError) as caught:
        af.AfterShipClient("as-key", http=down).create_tracking("RR1CN")
    assert caught.value.status_code == 503 and caught.value.retryable
    empty = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json={"meta": {}})))
    with pytest.raises(AggregatorError):
        af.AfterShipClient("as-key", http=empty).get_tracking("id-0")
