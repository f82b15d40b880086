"""17TRACK v2.2: webhook signature (known answer), payload parsing, envelope and client requests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.tracking.aggregators import AggregatorError, PayloadError, Unauthorised
from app.tracking.aggregators import seventeentrack as st
from app.tracking.statuses import Provider, Reason, Status


def test_signature_known_answer_step_by_step():
    body = b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}'
    key = "sandbox-key-123"
    # Step 1: the signed text is the raw body, a slash, then the security key.
    signed = body + b"/" + key.encode()
    assert signed == b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}/sandbox-key-123'
    # Step 2: a plain SHA-256 of it (no HMAC), lower-case hex. Pinned value cross-checked with
    # `printf '%s' '<signed>' | openssl dgst -sha256`.
    expected = "3c8d00bc121513d79205613a7253186588896c84e38f72b5459138e80ee768dc"
    assert hashlib.sha256(signed).hexdigest() == expected
    assert st.sign(body, key) == expected
    assert st.verify_signature(body, expected, key)
    assert st.verify_signature(body, f" {expected.upper()} ", key)  # hex case and padding do not matter


@pytest.mark.parametrize(
    ("body", "header", "key"),
    [
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CX"}}', None, "sandbox-key-123"),
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}', None, "another-key"),
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}', "", "sandbox-key-123"),
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}', "é", "sandbox-key-123"),
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}', "x", ""),
    ],
)
def test_signature_rejects_tampering_wrong_key_and_junk(body, header, key):
    good = "3c8d00bc121513d79205613a7253186588896c84e38f72b5459138e80ee768dc"
    assert not st.verify_signature(body, good if header is None else header, key)


def _event(sub, stage, time_iso, time_utc, description, location="Shenzhen, CN", **extra):
    return {"time_iso": time_iso, "time_utc": time_utc, "description": description, "location": location,
            "stage": stage, "sub_status": sub, **extra}


WEBHOOK = {
    "event": "TRACKING_UPDATED",
    "data": {
        "number": "RR123456789CN", "carrier": 3011, "param": None, "tag": "shipment-42",
        "track_info": {
            "latest_status": {"status": "InTransit", "sub_status": "InTransit_CustomsProcessing",
                              "sub_status_descr": None},
            "tracking": {"providers": [
                {"provider": {"key": 21051, "name": "USPS"}, "events": [
                    _event("InTransit_CustomsProcessing", None, "2026-11-20T09:00:00-08:00",
                           "2026-11-20T17:00:00Z", "Customs clearance started", None,
                           address={"city": "Los Angeles", "state": "CA", "country": "US"}),
                ]},
                {"provider": {"key": 3011, "name": "China Post"}, "events": [
                    _event(None, "Departure", "2026-11-18T22:00:00+08:00", "2026-11-18T14:00:00Z",
                           "Departed from the origin sorting centre"),
                    _event("InTransit_PickedUp", "PickedUp", "2026-11-18T10:00:00+08:00", "2026-11-18T02:00:00Z",
                           "Picked up"),
                    _event(None, None, None, None, "Parcel weighed"),
                ]},
            ]},
        },
    },
}


def test_parse_tracking_updated_webhook():
    update = st.parse_webhook(json.dumps(WEBHOOK).encode())
    assert (update.provider, update.number, update.carrier, update.tag) == ("17track", "RR123456789CN", "3011",
                                                                             "shipment-42")
    assert update.event == "TRACKING_UPDATED" and not update.stopped
    assert update.latest.status == Status.IN_TRANSIT and update.latest.reason == Reason.CUSTOMS_PROCESSING
    assert update.latest.provider == Provider.SEVENTEENTRACK
    # Oldest first across both carriers; the undated scan is kept (first), never dropped.
    assert [e.description for e in update.events] == [
        "Parcel weighed", "Picked up", "Departed from the origin sorting centre", "Customs clearance started",
    ]
    undated, picked, departed, customs = update.events
    assert undated.time is None and undated.normalised is None
    assert picked.time == datetime(2026, 11, 18, 2, tzinfo=UTC)
    assert picked.time.utcoffset() == timedelta(hours=8)  # the carrier's local offset is kept
    assert picked.raw_status == "InTransit_PickedUp" and picked.normalised.status == Status.IN_TRANSIT
    assert departed.raw_status == "Departure" and departed.normalised.status == Status.IN_TRANSIT
    assert customs.location == "Los Angeles, CA, US"  # built from the address when location is empty
    assert customs.time_raw == "2026-11-20T09:00:00-08:00"
    assert customs.raw["sub_status"] == "InTransit_CustomsProcessing"
    assert update.latest_event is customs


def test_parse_time_fallbacks():
    scan = st.parse_scan({"time_utc": "2026-11-18T02:00:00Z", "time_raw": {"date": "2026-11-18", "time": "10:00"}})
    assert scan.time == datetime(2026, 11, 18, 2, tzinfo=UTC)
    naive = st.parse_scan({"time_raw": {"date": "2026-11-18", "time": "10:00:00"}})
    assert naive.time is None and naive.time_raw == "2026-11-18 10:00:00"
    local = st.parse_scan({"time_iso": "2026-11-18 10:00:00"})  # no offset: read as UTC, raw kept
    assert local.time == datetime(2026, 11, 18, 10, tzinfo=UTC) and local.time_raw == "2026-11-18 10:00:00"
    offset = st.parse_scan({"time_iso": "2026-11-18T10:00:00+05:30"})
    assert offset.time.utcoffset() == timedelta(hours=5, minutes=30)
    assert offset.time.astimezone(UTC).hour == 4


def test_provider_without_events_is_empty_not_an_error():
    body = {"event": "TRACKING_UPDATED", "data": {"number": "RR1CN", "track_info": {
        "latest_status": {"status": "NotFound", "sub_status": "NotFound_Other"},
        "tracking": {"providers": [{"provider": {"key": 3011}}]}}}}
    update = st.parse_webhook(body)
    assert update.events == () and update.latest.status == Status.PENDING and update.latest.recognised


def test_parse_tracking_stopped_without_track_info():
    update = st.parse_webhook({"event": "TRACKING_STOPPED", "data": {"number": "RR1CN", "carrier": 3011}})
    assert update.stopped and update.latest is None and update.events == ()


@pytest.mark.parametrize(
    "body",
    [
        b"not json", b"\xff\xfe", b"[]", b'{"event":"TRACKING_DELETED","data":{"number":"x"}}',
        b'{"event":"TRACKING_UPDATED"}', b'{"event":"TRACKING_UPDATED","data":{"track_info":{}}}',
        b'{"event":"TRACKING_UPDATED","data":{"number":"RR1CN"}}',
        b'{"event":"TRACKING_UPDATED","data":{"number":"RR1CN","track_info":{"tracking":{"providers":{}}}}}',
        b'{"event":"TRACKING_UPDATED","data":{"number":"RR1CN","track_info":{"tracking":{"providers":[1]}}}}',
        b'{"event":"TRACKING_UPDATED","data":{"number":"RR1CN","track_info":{"tracking":{"providers":[{"events":[1]}]}}}}',
    ],
)
def test_malformed_webhooks_raise_payload_error(body):
    with pytest.raises(PayloadError):
        st.parse_webhook(body)


def test_envelope_accepted_rejected_and_already_registered():
    envelope = st.parse_envelope({"code": 0, "data": {
        "accepted": [{"origin": 1, "number": "RR1CN", "carrier": 3011}],
        "rejected": [{"number": "RR2CN", "error": {"code": -18019901, "message": "registered"}},
                     {"number": "bad", "error": {"code": "-18010012", "message": "format"}}],
    }})
    assert envelope.accepted_numbers == ["RR1CN"]
    assert envelope.rejected_with(st.ALREADY_REGISTERED) == ["RR2CN"]
    assert envelope.rejected[1] == st.Rejection("bad", -18010012, "format")
    for junk in (None, [], {"data": {}}, {"code": 0, "data": {"accepted": {}}}, {"code": 0, "data": {"accepted": [1]}}):
        with pytest.raises(PayloadError):
            st.parse_envelope(junk)


class Recorder:
    """An httpx transport that answers like 17TRACK and remembers every request."""

    def __init__(self, answer=None, status_code=200):
        self.requests: list[httpx.Request] = []
        self.answer = answer
        self.status_code = status_code

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content or b"null")
        answer = self.answer or {"code": 0, "data": {"accepted": [{"number": i["number"]} for i in body],
                                                     "rejected": []}}
        return httpx.Response(self.status_code, json=answer)

    def client(self) -> st.SeventeenTrackClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return st.SeventeenTrackClient("key-1", base_url="https://17.test/track/v2.2/", http=http)


def test_register_sends_the_token_and_batches_of_40():
    recorder = Recorder()
    items = [st.RegisterItem(f"RR{n:09d}CN", tag=f"s{n}") for n in range(85)]
    items[0] = st.RegisterItem("RR000000000CN", carrier=3011, tag="s0", param="90210", order_no="#1001")
    envelope = recorder.client().register(items)
    assert [len(json.loads(r.content)) for r in recorder.requests] == [40, 40, 5]
    assert {str(r.url) for r in recorder.requests} == {"https://17.test/track/v2.2/register"}
    assert all(r.headers["17token"] == "key-1" and r.method == "POST" for r in recorder.requests)
    first = json.loads(recorder.requests[0].content)
    assert first[0] == {"number": "RR000000000CN", "carrier": 3011, "tag": "s0", "param": "90210", "order_no": "#1001"}
    assert first[1] == {"number": "RR000000001CN", "auto_detection": True, "tag": "s1"}
    assert len(envelope.accepted) == 85


def test_other_calls_send_number_and_carrier_only():
    recorder = Recorder()
    client = recorder.client()
    client.stop_track(["RR1CN", st.RegisterItem("RR2CN", carrier=3011, tag="x")])
    client.retrack(["RR1CN"])
    assert [r.url.path for r in recorder.requests] == ["/track/v2.2/stoptrack", "/track/v2.2/retrack"]
    assert json.loads(recorder.requests[0].content) == [{"number": "RR1CN"}, {"number": "RR2CN", "carrier": 3011}]


def test_get_track_info_parses_accepted_and_keeps_rejected():
    answer = {"code": 0, "data": {"accepted": [WEBHOOK["data"]],
                                  "rejected": [{"number": "RR9CN", "error": {"code": -18019902, "message": "no"}}]}}
    updates, rejected = Recorder(answer).client().get_track_info(["RR123456789CN", "RR9CN"])
    assert [u.number for u in updates] == ["RR123456789CN"] and updates[0].event is None
    assert updates[0].latest.status == Status.IN_TRANSIT and len(updates[0].events) == 4
    assert rejected == [st.Rejection("RR9CN", st.NOT_REGISTERED, "no")]


def test_get_quota():
    answer = {"code": 0, "data": {"quota_total": 100, "quota_used": 7, "quota_remain": 93, "today_used": 2}}
    recorder = Recorder(answer)
    assert recorder.client().get_quota() == st.Quota(100, 7, 93, 2)
    assert recorder.requests[0].url.path == "/track/v2.2/getquota"
    with pytest.raises(AggregatorError):
        Recorder({"code": 0, "data": {}}).client().get_quota()


@pytest.mark.parametrize(
    ("status_code", "answer", "error_type", "retryable"),
    [
        (401, {"code": 401}, Unauthorised, False),
        (429, {"code": 429}, AggregatorError, True),
        (503, None, AggregatorError, True),
        (200, {"code": -18010014, "data": {"errors": [{"code": -18010014, "message": "too many"}]}},
         AggregatorError, False),
        (200, {"code": -18010002, "data": {"errors": [{"code": -18010002, "message": "bad key"}]}},
         Unauthorised, False),
        (200, {"unexpected": True}, AggregatorError, False),
    ],
)
def test_errors_are_raised_with_status_and_code(status_code, answer, error_type, retryable):
    with pytest.raises(error_type) as caught:
        Recorder(answer or {"code": 0}, status_code).client().register(["RR1CN"])
    assert caught.value.status_code == status_code and caught.value.retryable is retryable


def test_transport_errors_propagate_for_the_task_to_retry():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    client = st.SeventeenTrackClient("k", http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(httpx.ConnectError):
        client.get_quota()
