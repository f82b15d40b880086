"""The normalised status set: every provider value mapped value by value, unknowns, and the progress rule."""

from __future__ import annotations

import logging

import pytest

from app.tracking import statuses
from app.tracking.statuses import (
    Normalised,
    Provider,
    Reason,
    Status,
    from_17track,
    from_17track_stage,
    from_aftership,
    from_cj,
    from_shopify,
    supersedes,
    to_shopify,
)

S, R = Status, Reason

# Expected values are written out here, not derived from the module's tables, so a wrong table row fails.
SEVENTEENTRACK_SUB = [
    ("NotFound", "NotFound_Other", S.PENDING, None),
    ("NotFound", "NotFound_InvalidCode", S.INVALID, None),
    ("InfoReceived", "InfoReceived", S.INFO_RECEIVED, None),
    ("InTransit", "InTransit_PickedUp", S.IN_TRANSIT, None),
    ("InTransit", "InTransit_Other", S.IN_TRANSIT, None),
    ("InTransit", "InTransit_Departure", S.IN_TRANSIT, None),
    ("InTransit", "InTransit_Arrival", S.IN_TRANSIT, None),
    ("InTransit", "InTransit_CustomsProcessing", S.IN_TRANSIT, R.CUSTOMS_PROCESSING),
    ("InTransit", "InTransit_CustomsReleased", S.IN_TRANSIT, None),
    ("InTransit", "InTransit_CustomsRequiringInformation", S.IN_TRANSIT, R.CUSTOMS_ACTION_REQUIRED),
    ("Expired", "Expired_Other", S.EXPIRED, None),
    ("AvailableForPickup", "AvailableForPickup_Other", S.AVAILABLE_FOR_PICKUP, None),
    ("OutForDelivery", "OutForDelivery_Other", S.OUT_FOR_DELIVERY, None),
    ("DeliveryFailure", "DeliveryFailure_Other", S.DELIVERY_FAILED, None),
    ("DeliveryFailure", "DeliveryFailure_NoBody", S.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    ("DeliveryFailure", "DeliveryFailure_Security", S.DELIVERY_FAILED, R.SECURITY),
    ("DeliveryFailure", "DeliveryFailure_Rejected", S.DELIVERY_FAILED, R.REFUSED),
    ("DeliveryFailure", "DeliveryFailure_InvalidAddress", S.DELIVERY_FAILED, R.ADDRESS_ISSUE),
    ("Delivered", "Delivered_Other", S.DELIVERED, None),
    ("Exception", "Exception_Other", S.EXCEPTION, None),
    ("Exception", "Exception_Returning", S.RETURNING, None),
    ("Exception", "Exception_Returned", S.RETURNED, None),
    ("Exception", "Exception_NoBody", S.EXCEPTION, R.RECIPIENT_UNAVAILABLE),
    ("Exception", "Exception_Security", S.EXCEPTION, R.SECURITY),
    ("Exception", "Exception_Damage", S.EXCEPTION, R.DAMAGED),
    ("Exception", "Exception_Rejected", S.EXCEPTION, R.REFUSED),
    ("Exception", "Exception_Delayed", S.EXCEPTION, R.DELAYED),
    ("Exception", "Exception_Lost", S.EXCEPTION, R.LOST),
    ("Exception", "Exception_Destroyed", S.EXCEPTION, R.DESTROYED),
    ("Exception", "Exception_Cancel", S.EXCEPTION, R.CANCELLED),
]
SEVENTEENTRACK_MAIN = [
    ("NotFound", S.PENDING), ("InfoReceived", S.INFO_RECEIVED), ("InTransit", S.IN_TRANSIT),
    ("Expired", S.EXPIRED), ("AvailableForPickup", S.AVAILABLE_FOR_PICKUP),
    ("OutForDelivery", S.OUT_FOR_DELIVERY), ("DeliveryFailure", S.DELIVERY_FAILED),
    ("Delivered", S.DELIVERED), ("Exception", S.EXCEPTION),
]
SEVENTEENTRACK_STAGES = [
    ("InfoReceived", S.INFO_RECEIVED), ("PickedUp", S.IN_TRANSIT), ("Departure", S.IN_TRANSIT),
    ("Arrival", S.IN_TRANSIT), ("AvailableForPickup", S.AVAILABLE_FOR_PICKUP),
    ("OutForDelivery", S.OUT_FOR_DELIVERY), ("Delivered", S.DELIVERED), ("Returning", S.RETURNING),
    ("Returned", S.RETURNED),
]
AFTERSHIP_TAGS = [
    ("Pending", S.PENDING), ("InfoReceived", S.INFO_RECEIVED), ("InTransit", S.IN_TRANSIT),
    ("OutForDelivery", S.OUT_FOR_DELIVERY), ("AttemptFail", S.DELIVERY_FAILED), ("Delivered", S.DELIVERED),
    ("AvailableForPickup", S.AVAILABLE_FOR_PICKUP), ("Exception", S.EXCEPTION), ("Expired", S.EXPIRED),
]
AFTERSHIP_SUBTAGS = [
    *[(f"Pending_00{n}", S.PENDING, None) for n in range(1, 7)],
    ("InfoReceived_001", S.INFO_RECEIVED, None),
    ("InTransit_001", S.IN_TRANSIT, None), ("InTransit_002", S.IN_TRANSIT, None),
    ("InTransit_003", S.IN_TRANSIT, None), ("InTransit_004", S.IN_TRANSIT, None),
    ("InTransit_005", S.IN_TRANSIT, None), ("InTransit_006", S.IN_TRANSIT, R.CUSTOMS_PROCESSING),
    ("InTransit_007", S.IN_TRANSIT, None), ("InTransit_008", S.IN_TRANSIT, None),
    ("InTransit_009", S.IN_TRANSIT, None),
    ("OutForDelivery_001", S.OUT_FOR_DELIVERY, None), ("OutForDelivery_002", S.AVAILABLE_FOR_PICKUP, None),
    ("OutForDelivery_003", S.OUT_FOR_DELIVERY, None), ("OutForDelivery_004", S.OUT_FOR_DELIVERY, None),
    ("AttemptFail_001", S.DELIVERY_FAILED, None),
    ("AttemptFail_002", S.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    ("AttemptFail_003", S.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    *[(f"Delivered_00{n}", S.DELIVERED, None) for n in range(1, 6)],
    ("AvailableForPickup_001", S.AVAILABLE_FOR_PICKUP, None),
    ("Exception_001", S.EXCEPTION, None), ("Exception_002", S.EXCEPTION, R.ADDRESS_ISSUE),
    ("Exception_003", S.EXCEPTION, R.REFUSED), ("Exception_004", S.EXCEPTION, R.CUSTOMS_ACTION_REQUIRED),
    ("Exception_005", S.EXCEPTION, R.DELAYED), ("Exception_006", S.EXCEPTION, R.HELD_FOR_PAYMENT),
    ("Exception_007", S.EXCEPTION, R.ADDRESS_ISSUE), ("Exception_008", S.EXCEPTION, R.PICKUP_MISSED),
    ("Exception_009", S.EXCEPTION, R.CARRIER_REJECTED), ("Exception_010", S.RETURNING, None),
    ("Exception_011", S.RETURNED, None), ("Exception_012", S.EXCEPTION, R.DAMAGED),
    ("Exception_013", S.EXCEPTION, R.LOST), ("Exception_016", S.EXCEPTION, R.DELAYED),
    ("Exception_017", S.EXCEPTION, R.DELAYED), ("Exception_018", S.EXCEPTION, R.CUSTOMS_ACTION_REQUIRED),
    ("Exception_019", S.EXCEPTION, R.DELAYED), ("Exception_020", S.EXCEPTION, R.CANCELLED),
    ("Exception_021", S.EXCEPTION, R.DESTROYED),
    ("Expired_001", S.EXPIRED, None),
]
CJ = [
    (0, S.PENDING, None), (1, S.IN_TRANSIT, None), (2, S.IN_TRANSIT, None),
    (3, S.EXCEPTION, R.CARRIER_REJECTED), (4, S.IN_TRANSIT, None), (5, S.IN_TRANSIT, None),
    (6, S.IN_TRANSIT, None), (7, S.IN_TRANSIT, R.CUSTOMS_PROCESSING), (8, S.IN_TRANSIT, None),
    (9, S.IN_TRANSIT, None), (10, S.OUT_FOR_DELIVERY, None), (11, S.AVAILABLE_FOR_PICKUP, None),
    (12, S.DELIVERED, None), (13, S.EXCEPTION, None), (14, S.RETURNED, None),
]
SHOPIFY = [
    ("label_printed", S.INFO_RECEIVED, None), ("label_purchased", S.INFO_RECEIVED, None),
    ("attempted_delivery", S.DELIVERY_FAILED, None), ("ready_for_pickup", S.AVAILABLE_FOR_PICKUP, None),
    ("confirmed", S.PENDING, None), ("in_transit", S.IN_TRANSIT, None),
    ("out_for_delivery", S.OUT_FOR_DELIVERY, None), ("delivered", S.DELIVERED, None),
    ("failure", S.EXCEPTION, None), ("carrier_picked_up", S.IN_TRANSIT, None),
    ("delayed", S.IN_TRANSIT, R.DELAYED), ("picked_up", S.DELIVERED, None),
]


@pytest.mark.parametrize(("main", "sub", "status", "reason"), SEVENTEENTRACK_SUB)
def test_17track_sub_status(main, sub, status, reason):
    assert from_17track(main, sub) == Normalised(status, main, sub, Provider.SEVENTEENTRACK, reason)
    # The sub-status alone carries its main status.
    assert from_17track(None, sub).status == status


@pytest.mark.parametrize(("main", "status"), SEVENTEENTRACK_MAIN)
def test_17track_main_status_alone(main, status):
    assert from_17track(main) == Normalised(status, main, None, Provider.SEVENTEENTRACK)


@pytest.mark.parametrize(("stage", "status"), SEVENTEENTRACK_STAGES)
def test_17track_scan_stage(stage, status):
    assert from_17track_stage(stage) == Normalised(status, stage, None, Provider.SEVENTEENTRACK)


@pytest.mark.parametrize(("tag", "status"), AFTERSHIP_TAGS)
def test_aftership_tag_alone(tag, status):
    assert from_aftership(tag) == Normalised(status, tag, None, Provider.AFTERSHIP)


@pytest.mark.parametrize(("subtag", "status", "reason"), AFTERSHIP_SUBTAGS)
def test_aftership_subtag(subtag, status, reason):
    tag = subtag.split("_")[0]
    assert from_aftership(tag, subtag) == Normalised(status, tag, subtag, Provider.AFTERSHIP, reason)


@pytest.mark.parametrize(("value", "status", "reason"), CJ)
def test_cj_tracking_status(value, status, reason):
    assert from_cj(value) == Normalised(status, str(value), None, Provider.CJ, reason)
    assert from_cj(str(value)).status == status  # CJ sometimes sends the number as a string


@pytest.mark.parametrize(("value", "status", "reason"), SHOPIFY)
def test_shopify_shipment_status(value, status, reason):
    assert from_shopify(value) == Normalised(status, value, None, Provider.SHOPIFY, reason)
    assert from_shopify(value.upper()).status == status  # GraphQL FulfillmentEventStatus


def test_tables_hold_exactly_the_tested_values():
    assert set(statuses.SEVENTEENTRACK_SUB_STATUS) == {row[1] for row in SEVENTEENTRACK_SUB}
    assert set(statuses.SEVENTEENTRACK_STATUS) == {row[0] for row in SEVENTEENTRACK_MAIN}
    assert set(statuses.SEVENTEENTRACK_STAGE) == {row[0] for row in SEVENTEENTRACK_STAGES}
    assert set(statuses.AFTERSHIP_TAG) == {row[0] for row in AFTERSHIP_TAGS}
    assert set(statuses.AFTERSHIP_SUBTAG) == {row[0] for row in AFTERSHIP_SUBTAGS}
    assert set(statuses.CJ_TRACKING_STATUS) == set(range(15))
    assert set(statuses.SHOPIFY_SHIPMENT_STATUS) == {row[0] for row in SHOPIFY}
    assert set(statuses.TO_SHOPIFY) == set(Status)


def test_shopify_null_status_is_pending_and_recognised():
    assert from_shopify(None) == Normalised(S.PENDING, None, None, Provider.SHOPIFY)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: from_17track("Teleported", "Teleported_Other"), S.PENDING),
        (lambda: from_17track("InTransit", "InTransit_OnTheMoon"), S.IN_TRANSIT),  # known main status wins
        (lambda: from_17track("Delivered", "InTransit_Other"), S.DELIVERED),  # sub-status of another status
        (lambda: from_17track(None, None), S.PENDING),
        (lambda: from_17track_stage("Warped"), S.PENDING),
        (lambda: from_aftership("Exception", "Exception_099"), S.EXCEPTION),  # a subtag newer than our table
        (lambda: from_aftership("Teleported", None), S.PENDING),
        (lambda: from_aftership("InTransit", "Delivered_001"), S.IN_TRANSIT),
        (lambda: from_cj(15), S.PENDING),
        (lambda: from_cj("twelve"), S.PENDING),
        (lambda: from_cj(None), S.PENDING),
        (lambda: from_shopify("buyer_action_required"), S.PENDING),
    ],
)
def test_unknown_values_fall_back_safely_keep_raw_and_are_reported(call, expected, caplog):
    with caplog.at_level(logging.WARNING, logger="app.tracking.statuses"):
        result = call()
    assert result.status == expected
    assert result.recognised is False
    assert [r.getMessage() for r in caplog.records] == ["tracking.unknown_status"]
    assert caplog.records[0].provider == result.provider.value
    assert caplog.records[0].raw_status == result.raw_status


def test_unknown_keeps_the_raw_words():
    result = from_aftership("Exception", "Exception_099")
    assert (result.raw_status, result.raw_sub_status, result.reason) == ("Exception", "Exception_099", None)
    assert result.as_dict() == {
        "status": "exception", "reason": None, "raw_status": "Exception", "raw_sub_status": "Exception_099",
        "provider": "aftership", "recognised": False,
    }


def test_ranks_terminal_and_final():
    assert [s.rank for s in (S.PENDING, S.INFO_RECEIVED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY,
                             S.AVAILABLE_FOR_PICKUP, S.DELIVERY_FAILED, S.DELIVERED)] == [0, 1, 2, 3, 3, 3, 4]
    assert all(s.rank is None for s in (S.EXCEPTION, S.RETURNING, S.RETURNED, S.EXPIRED, S.INVALID))
    assert {s for s in Status if s.terminal} == {S.DELIVERED, S.RETURNED, S.INVALID}
    assert {s for s in Status if s.is_branch} == {S.EXCEPTION, S.RETURNING, S.RETURNED}
    assert from_17track("Exception", "Exception_Lost").final
    assert from_17track("Exception", "Exception_Cancel").final
    assert not from_17track("Exception", "Exception_Delayed").final
    assert from_17track("Delivered", "Delivered_Other").final
    assert not from_17track("Expired", "Expired_Other").final


MAIN = [S.PENDING, S.INFO_RECEIVED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP,
        S.DELIVERY_FAILED, S.DELIVERED]


def test_main_line_never_moves_backwards():
    for current in MAIN:
        for new in MAIN:
            expected = new != current and current != S.DELIVERED and new.rank >= current.rank
            assert supersedes(new, current) is expected, (new, current)


def test_final_statuses_are_never_replaced():
    for current in (S.DELIVERED, S.RETURNED, S.INVALID):
        assert not any(supersedes(new, current) for new in Status)


def test_branches_are_entered_from_anything_not_final_and_only_go_forwards():
    for current in [*MAIN[:-1], S.EXPIRED]:
        assert supersedes(S.EXCEPTION, current) and supersedes(S.RETURNING, current)
        assert supersedes(S.RETURNED, current)
    assert supersedes(S.RETURNING, S.EXCEPTION) and supersedes(S.RETURNED, S.RETURNING)
    assert not supersedes(S.EXCEPTION, S.RETURNING)
    assert not supersedes(S.EXCEPTION, S.EXCEPTION)


def test_leaving_a_branch():
    # An exception clears when the parcel moves again; a stale pre-transit scan does not clear it.
    assert supersedes(S.IN_TRANSIT, S.EXCEPTION) and supersedes(S.DELIVERED, S.EXCEPTION)
    assert not supersedes(S.PENDING, S.EXCEPTION) and not supersedes(S.INFO_RECEIVED, S.EXCEPTION)
    assert not supersedes(S.EXPIRED, S.EXCEPTION) and not supersedes(S.INVALID, S.EXCEPTION)
    # A parcel on its way back stays returning until it is back.
    assert [s for s in Status if supersedes(s, S.RETURNING)] == [S.RETURNED]


def test_expired_and_invalid():
    assert all(supersedes(S.EXPIRED, s) for s in MAIN[:-1])
    assert not supersedes(S.EXPIRED, S.RETURNING)
    assert not supersedes(S.PENDING, S.EXPIRED) and supersedes(S.INFO_RECEIVED, S.EXPIRED)
    assert supersedes(S.DELIVERED, S.EXPIRED)
    assert [s for s in Status if supersedes(S.INVALID, s)] == [S.PENDING, S.INFO_RECEIVED, S.EXPIRED]
    assert supersedes(S.PENDING, None) and supersedes(S.INVALID, None)


def test_to_shopify():
    assert {s: to_shopify(s) for s in Status} == {
        S.PENDING: "confirmed", S.INFO_RECEIVED: "label_purchased", S.IN_TRANSIT: "in_transit",
        S.OUT_FOR_DELIVERY: "out_for_delivery", S.AVAILABLE_FOR_PICKUP: "ready_for_pickup",
        S.DELIVERY_FAILED: "attempted_delivery", S.DELIVERED: "delivered", S.EXCEPTION: "failure",
        S.RETURNING: "failure", S.RETURNED: "failure", S.EXPIRED: None, S.INVALID: None,
    }
    assert to_shopify(S.IN_TRANSIT, first_transit_scan=True) == "carrier_picked_up"
    assert to_shopify(S.EXCEPTION, R.DELAYED) == "delayed"
    assert to_shopify(S.IN_TRANSIT, R.DELAYED) == "delayed"
    assert to_shopify(S.EXCEPTION, R.LOST) == "failure"
    # What we send is something the store's own status maps back to the same normalised status.
    for status in MAIN:
        assert from_shopify(to_shopify(status)).status == status
