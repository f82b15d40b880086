"""Supplier lanes (CJ Packet, Cainiao, YunExpress, 4PX, Yanwen): their numbers carry no check digit,
so a shape alone is not proof; the aggregator recognising the number is. Until then the shipped
message waits (no false "invalid number" alert); once recognised it goes out; a number the
aggregator refuses is invalid after all."""

from __future__ import annotations

import random

import httpx
import pytest

from app.config import get_settings
from app.sandbox.aliexpress import state as aliexpress
from app.sandbox.cj import state as cj
from app.tracking import follow, service
from app.tracking.aggregators import seventeentrack
from app.tracking.numbers import validate
from tests.suppliers.helpers import events
from tests.tracking.helpers import alerts_of, notifications_of, reload, shipment_for

LANES = {
    "CJPKL7160102171YQ": "cj_packet",
    "CJPKL12345678AB12": "cj_packet",  # what the CJ emulator issues
    "LP00123456789012": "cainiao",
    "YT2212345678901234": "yunexpress",
    "4PX3001234567890CN": "fourpx",
    "UG123456789YP": "yanwen",
}


@pytest.mark.parametrize(("number", "carrier"), LANES.items())
def test_lane_numbers_are_recognised_as_their_lane_pending_the_aggregator(number, carrier):
    found = validate(number)
    assert found is not None and found.carrier == carrier and found.needs_aggregator
    assert found.tracking_url and found.number in found.tracking_url


@pytest.mark.parametrize("number", ["CJPKL12", "LP1234567890ABCD", "4PX30012345CN1", "UG123456789XX", "YT12345"])
def test_near_misses_are_not_lane_numbers(number):
    found = validate(number)
    assert found is None or found.carrier not in ("cj_packet", "cainiao", "fourpx", "yanwen", "yunexpress")


def test_the_emulators_issue_numbers_of_their_lanes():
    ali = {"order_status": "WAIT_SELLER_SEND_GOODS", "logistics_no": None, "tracking": []}
    aliexpress.advance(ali, "SELLER_PART_SEND_GOODS", None, None)
    assert validate(ali["logistics_no"]).carrier == "cainiao"
    packet = {"orderStatus": "UNSHIPPED", "trackNumber": None, "trackingUrl": None, "paymentDate": None,
              "deliveryDate": None, "events": [], "shippingCountryCode": "US"}
    cj.advance(packet, {"to": "SHIPPED"})
    assert validate(packet["trackNumber"]).carrier == "cj_packet"


@pytest.mark.parametrize("provider", ["17track", "aftership"])
def test_lane_number_is_announced_once_the_aggregator_recognises_it(db, shop, live_server, monkeypatch, provider):
    monkeypatch.setattr(get_settings(), "tracking_provider", provider)
    order, shipment = shipment_for(db, shop, number="CJPKL" + str(random.randrange(10**12)).zfill(12), carrier=None)
    row = reload(shipment.id)
    assert row.flags == [service.AWAITING_RECOGNITION] and not service.announceable(row)
    assert row.carrier == "CJ Packet" and row.tracking_url
    assert alerts_of(shipment.id) == []  # no false alert for a CJ parcel
    assert notifications_of(order.id, "shipped") == []

    assert follow.register(shipment.id) == "registered"
    row = reload(shipment.id)
    assert row.flags == [] and service.announceable(row)
    assert len(notifications_of(order.id, "shipped")) == 1
    (recognised,) = events(shop.domain, "shipment.number_recognised")
    assert recognised.data == {**recognised.data, "provider": provider, "was_invalid": False}


def test_lane_number_the_aggregator_refuses_becomes_invalid(db, shop, monkeypatch):
    monkeypatch.setattr(get_settings(), "tracking_provider", "17track")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 0, "data": {"accepted": [], "rejected": [
            {"number": "LP00999999999999", "error": {"code": seventeentrack.CARRIER_NOT_DETECTED,
                                                     "message": "The carrier cannot be detected."}}]}})

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    monkeypatch.setattr(follow, "client", lambda provider: seventeentrack.SeventeenTrackClient(
        "k", base_url="http://17track.test/track/v2.2", http=http))
    order, shipment = shipment_for(db, shop, number="LP00999999999999", carrier=None)
    with pytest.raises(Exception, match="refused the number"):
        follow.register(shipment.id)
    row = reload(shipment.id)
    assert row.flags == [service.INVALID_NUMBER]
    assert [a.condition for a in alerts_of(shipment.id)] == ["invalid_number"]
    assert notifications_of(order.id, "shipped") == []
    (invalid,) = events(shop.domain, "shipment.number_invalid")
    assert invalid.data["provider"] == "17track"
