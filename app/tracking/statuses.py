"""One normalised shipment status set, and the tables that map every provider's values onto it.

Pure: no I/O apart from a warning log line when a provider sends a value we do not know.

Progress rule (`supersedes(new, current)`), the guard that keeps out-of-order scans from moving a
parcel backwards. Callers compare event times first (an event older than the last applied one is
recorded but not applied); this rule is the second wall for providers that resend stale states.

- Main line, by rank: pending 0 < info_received 1 < in_transit 2 < {out_for_delivery,
  available_for_pickup, delivery_failed} 3 < delivered 4. A main-line status replaces another only
  if its rank is equal or higher; equal rank lets a parcel go out for delivery again after a failed
  attempt, or move to a pickup point.
- Branches: exception < returning < returned. Entering a branch is allowed from any non-final
  status, whatever its rank: that is the one way "backwards". Inside the branches only forwards.
- Leaving `exception` (problem resolved, customs released) needs a main-line status of rank >= 2;
  a late `pending`/`info_received` is stale. `returning` is left only for `returned`.
- `expired` (the provider gave up, retrack is possible) replaces main-line statuses only, never an
  exception or a return, and is left for any status of rank >= 1 or a branch.
- `invalid` (the number does not exist) replaces only pending, info_received or expired.
- Final: delivered, returned, invalid. Nothing replaces them. An `exception` whose reason is lost,
  destroyed or cancelled is final too (`Normalised.final`), but stays replaceable because carriers
  do find lost parcels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class Status(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNING = "returning"
    RETURNED = "returned"
    EXPIRED = "expired"
    INVALID = "invalid"

    @property
    def rank(self) -> int | None:
        """Progress along the main line; None for branches and stop states."""
        return _RANK.get(self)

    @property
    def is_branch(self) -> bool:
        return self in _BRANCH_RANK

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


class Reason(StrEnum):
    """Why a parcel is in its status, from the provider's sub-status (None when it says nothing more)."""

    CUSTOMS_PROCESSING = "customs_processing"
    CUSTOMS_ACTION_REQUIRED = "customs_action_required"
    ADDRESS_ISSUE = "address_issue"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    REFUSED = "refused"
    SECURITY = "security"
    DAMAGED = "damaged"
    LOST = "lost"
    DESTROYED = "destroyed"
    CANCELLED = "cancelled"
    DELAYED = "delayed"
    HELD_FOR_PAYMENT = "held_for_payment"
    PICKUP_MISSED = "pickup_missed"
    CARRIER_REJECTED = "carrier_rejected"


class Provider(StrEnum):
    SEVENTEENTRACK = "17track"
    AFTERSHIP = "aftership"
    CJ = "cj"
    SHOPIFY = "shopify"


S = Status
R = Reason
_RANK = {
    S.PENDING: 0, S.INFO_RECEIVED: 1, S.IN_TRANSIT: 2,
    S.OUT_FOR_DELIVERY: 3, S.AVAILABLE_FOR_PICKUP: 3, S.DELIVERY_FAILED: 3, S.DELIVERED: 4,
}
_BRANCH_RANK = {S.EXCEPTION: 0, S.RETURNING: 1, S.RETURNED: 2}
_TERMINAL = frozenset({S.DELIVERED, S.RETURNED, S.INVALID})
FINAL_EXCEPTION_REASONS = frozenset({R.LOST, R.DESTROYED, R.CANCELLED})


def supersedes(new: Status, current: Status | None) -> bool:
    """Whether a scan saying `new` should replace the parcel's `current` status (rule in the module doc)."""
    if current is None:
        return True
    if new == current or current.terminal:
        return False
    if new == S.INVALID:
        return current in (S.PENDING, S.INFO_RECEIVED, S.EXPIRED)
    if new.is_branch:
        return not current.is_branch or _BRANCH_RANK[new] > _BRANCH_RANK[current]
    if current == S.RETURNING:
        return False
    if current == S.EXCEPTION:
        return new.rank is not None and new.rank >= 2
    if new == S.EXPIRED:
        return current.rank is not None
    if current == S.EXPIRED:
        return new.rank is not None and new.rank >= 1
    return new.rank is not None and current.rank is not None and new.rank >= current.rank


@dataclass(frozen=True)
class Normalised:
    """A provider's status in our terms, with the provider's own words kept verbatim as evidence."""

    status: Status
    raw_status: str | None
    raw_sub_status: str | None
    provider: Provider
    reason: Reason | None = None
    # False when the provider sent a value missing from our tables; status is then the safe default.
    recognised: bool = True

    @property
    def final(self) -> bool:
        return self.status.terminal or (
            self.status == S.EXCEPTION and self.reason in FINAL_EXCEPTION_REASONS
        )

    def as_dict(self) -> dict[str, str | bool | None]:
        return {
            "status": self.status.value, "reason": self.reason.value if self.reason else None,
            "raw_status": self.raw_status, "raw_sub_status": self.raw_sub_status,
            "provider": self.provider.value, "recognised": self.recognised,
        }


Mapped = tuple[Status, Reason | None]

# 17TRACK v2.2 `latest_status.status` and `sub_status` (the sub-status carries its main status).
SEVENTEENTRACK_STATUS: dict[str, Status] = {
    "NotFound": S.PENDING, "InfoReceived": S.INFO_RECEIVED, "InTransit": S.IN_TRANSIT,
    "Expired": S.EXPIRED, "AvailableForPickup": S.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": S.OUT_FOR_DELIVERY, "DeliveryFailure": S.DELIVERY_FAILED,
    "Delivered": S.DELIVERED, "Exception": S.EXCEPTION,
}
SEVENTEENTRACK_SUB_STATUS: dict[str, Mapped] = {
    "NotFound_Other": (S.PENDING, None),
    "NotFound_InvalidCode": (S.INVALID, None),
    "InfoReceived": (S.INFO_RECEIVED, None),
    "InTransit_PickedUp": (S.IN_TRANSIT, None),
    "InTransit_Other": (S.IN_TRANSIT, None),
    "InTransit_Departure": (S.IN_TRANSIT, None),
    "InTransit_Arrival": (S.IN_TRANSIT, None),
    "InTransit_CustomsProcessing": (S.IN_TRANSIT, R.CUSTOMS_PROCESSING),
    "InTransit_CustomsReleased": (S.IN_TRANSIT, None),
    "InTransit_CustomsRequiringInformation": (S.IN_TRANSIT, R.CUSTOMS_ACTION_REQUIRED),
    "Expired_Other": (S.EXPIRED, None),
    "AvailableForPickup_Other": (S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_Other": (S.OUT_FOR_DELIVERY, None),
    "DeliveryFailure_Other": (S.DELIVERY_FAILED, None),
    "DeliveryFailure_NoBody": (S.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    "DeliveryFailure_Security": (S.DELIVERY_FAILED, R.SECURITY),
    "DeliveryFailure_Rejected": (S.DELIVERY_FAILED, R.REFUSED),
    "DeliveryFailure_InvalidAddress": (S.DELIVERY_FAILED, R.ADDRESS_ISSUE),
    "Delivered_Other": (S.DELIVERED, None),
    "Exception_Other": (S.EXCEPTION, None),
    "Exception_Returning": (S.RETURNING, None),
    "Exception_Returned": (S.RETURNED, None),
    "Exception_NoBody": (S.EXCEPTION, R.RECIPIENT_UNAVAILABLE),
    "Exception_Security": (S.EXCEPTION, R.SECURITY),
    "Exception_Damage": (S.EXCEPTION, R.DAMAGED),
    "Exception_Rejected": (S.EXCEPTION, R.REFUSED),
    "Exception_Delayed": (S.EXCEPTION, R.DELAYED),
    "Exception_Lost": (S.EXCEPTION, R.LOST),
    "Exception_Destroyed": (S.EXCEPTION, R.DESTROYED),
    "Exception_Cancel": (S.EXCEPTION, R.CANCELLED),
}

# 17TRACK milestone `stage` of a single scan, used when the scan carries no sub-status.
SEVENTEENTRACK_STAGE: dict[str, Status] = {
    "InfoReceived": S.INFO_RECEIVED, "PickedUp": S.IN_TRANSIT, "Departure": S.IN_TRANSIT,
    "Arrival": S.IN_TRANSIT, "AvailableForPickup": S.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": S.OUT_FOR_DELIVERY, "Delivered": S.DELIVERED, "Returning": S.RETURNING,
    "Returned": S.RETURNED,
}

# AfterShip Tracking `tag` and `subtag` (Tag_NNN); the 2026 additions are the documented ones.
AFTERSHIP_TAG: dict[str, Status] = {
    "Pending": S.PENDING, "InfoReceived": S.INFO_RECEIVED, "InTransit": S.IN_TRANSIT,
    "OutForDelivery": S.OUT_FOR_DELIVERY, "AttemptFail": S.DELIVERY_FAILED, "Delivered": S.DELIVERED,
    "AvailableForPickup": S.AVAILABLE_FOR_PICKUP, "Exception": S.EXCEPTION, "Expired": S.EXPIRED,
}
AFTERSHIP_SUBTAG: dict[str, Mapped] = {
    **{f"Pending_00{n}": (S.PENDING, None) for n in range(1, 7)},
    "InfoReceived_001": (S.INFO_RECEIVED, None),
    **{f"InTransit_00{n}": (S.IN_TRANSIT, None) for n in range(1, 10)},
    "InTransit_006": (S.IN_TRANSIT, R.CUSTOMS_PROCESSING),
    "OutForDelivery_001": (S.OUT_FOR_DELIVERY, None),
    # Retired subtag, still seen on old trackings: "arrived at sorting centre, available for pickup".
    "OutForDelivery_002": (S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_003": (S.OUT_FOR_DELIVERY, None),
    "OutForDelivery_004": (S.OUT_FOR_DELIVERY, None),
    "AttemptFail_001": (S.DELIVERY_FAILED, None),
    "AttemptFail_002": (S.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    "AttemptFail_003": (S.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    **{f"Delivered_00{n}": (S.DELIVERED, None) for n in range(1, 6)},
    "AvailableForPickup_001": (S.AVAILABLE_FOR_PICKUP, None),
    "Exception_001": (S.EXCEPTION, None),
    "Exception_002": (S.EXCEPTION, R.ADDRESS_ISSUE),
    "Exception_003": (S.EXCEPTION, R.REFUSED),
    "Exception_004": (S.EXCEPTION, R.CUSTOMS_ACTION_REQUIRED),
    "Exception_005": (S.EXCEPTION, R.DELAYED),
    "Exception_006": (S.EXCEPTION, R.HELD_FOR_PAYMENT),
    "Exception_007": (S.EXCEPTION, R.ADDRESS_ISSUE),
    "Exception_008": (S.EXCEPTION, R.PICKUP_MISSED),
    "Exception_009": (S.EXCEPTION, R.CARRIER_REJECTED),
    "Exception_010": (S.RETURNING, None),
    "Exception_011": (S.RETURNED, None),
    "Exception_012": (S.EXCEPTION, R.DAMAGED),
    "Exception_013": (S.EXCEPTION, R.LOST),
    "Exception_016": (S.EXCEPTION, R.DELAYED),
    "Exception_017": (S.EXCEPTION, R.DELAYED),
    "Exception_018": (S.EXCEPTION, R.CUSTOMS_ACTION_REQUIRED),
    "Exception_019": (S.EXCEPTION, R.DELAYED),
    "Exception_020": (S.EXCEPTION, R.CANCELLED),
    "Exception_021": (S.EXCEPTION, R.DESTROYED),
    "Expired_001": (S.EXPIRED, None),
}

# CJdropshipping LOGISTIC webhook `trackingStatus`. 3 ("returned by forwarder": the forwarder sent
# the parcel back to CJ's warehouse) is an exception rather than transit: it needs attention and is
# cleared by the next transit scan.
CJ_TRACKING_STATUS: dict[int, Mapped] = {
    0: (S.PENDING, None), 1: (S.IN_TRANSIT, None), 2: (S.IN_TRANSIT, None),
    3: (S.EXCEPTION, R.CARRIER_REJECTED), 4: (S.IN_TRANSIT, None), 5: (S.IN_TRANSIT, None),
    6: (S.IN_TRANSIT, None), 7: (S.IN_TRANSIT, R.CUSTOMS_PROCESSING), 8: (S.IN_TRANSIT, None),
    9: (S.IN_TRANSIT, None), 10: (S.OUT_FOR_DELIVERY, None), 11: (S.AVAILABLE_FOR_PICKUP, None),
    12: (S.DELIVERED, None), 13: (S.EXCEPTION, None), 14: (S.RETURNED, None),
}

# Shopify fulfilment `shipment_status` (REST, lower case; GraphQL FulfillmentEventStatus is the
# same words upper-cased). null means the store has no carrier status yet.
SHOPIFY_SHIPMENT_STATUS: dict[str, Mapped] = {
    "label_printed": (S.INFO_RECEIVED, None), "label_purchased": (S.INFO_RECEIVED, None),
    "attempted_delivery": (S.DELIVERY_FAILED, None), "ready_for_pickup": (S.AVAILABLE_FOR_PICKUP, None),
    "confirmed": (S.PENDING, None), "in_transit": (S.IN_TRANSIT, None),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, None), "delivered": (S.DELIVERED, None),
    "failure": (S.EXCEPTION, None), "carrier_picked_up": (S.IN_TRANSIT, None),
    "delayed": (S.IN_TRANSIT, R.DELAYED), "picked_up": (S.DELIVERED, None),
}

# What we tell the store for each of our statuses (None: send nothing). Returns go out as
# `failure` because RETURNING_TO_SENDER exists only in Shopify's unstable API.
TO_SHOPIFY: dict[Status, str | None] = {
    S.PENDING: "confirmed", S.INFO_RECEIVED: "label_purchased", S.IN_TRANSIT: "in_transit",
    S.OUT_FOR_DELIVERY: "out_for_delivery", S.AVAILABLE_FOR_PICKUP: "ready_for_pickup",
    S.DELIVERY_FAILED: "attempted_delivery", S.DELIVERED: "delivered", S.EXCEPTION: "failure",
    S.RETURNING: "failure", S.RETURNED: "failure", S.EXPIRED: None, S.INVALID: None,
}


def _unknown(provider: Provider, raw_status: str | None, raw_sub: str | None, fallback: Mapped) -> Normalised:
    # Reported, not raised: a new provider value must not stop ingestion; the raw words are kept.
    log.warning(
        "tracking.unknown_status",
        extra={"provider": provider.value, "raw_status": raw_status, "raw_sub_status": raw_sub},
    )
    return Normalised(fallback[0], raw_status, raw_sub, provider, fallback[1], recognised=False)


_DEFAULT: Mapped = (S.PENDING, None)  # rank 0: never moves a parcel and never notifies a customer


def from_17track(status: str | None, sub_status: str | None = None) -> Normalised:
    """17TRACK main status + sub-status. The sub-status decides when it belongs to the main status."""
    provider = Provider.SEVENTEENTRACK
    main = SEVENTEENTRACK_STATUS.get(status or "")
    mapped = SEVENTEENTRACK_SUB_STATUS.get(sub_status or "")
    if mapped and (status is None or sub_status == status or (sub_status or "").startswith(f"{status}_")):
        return Normalised(mapped[0], status, sub_status, provider, mapped[1])
    if main is not None and not sub_status:
        return Normalised(main, status, sub_status, provider)
    return _unknown(provider, status, sub_status, (main, None) if main is not None else _DEFAULT)


def from_17track_stage(stage: str) -> Normalised:
    """One 17TRACK scan's milestone stage (raw_status keeps the stage's name)."""
    status = SEVENTEENTRACK_STAGE.get(stage)
    if status is None:
        return _unknown(Provider.SEVENTEENTRACK, stage, None, _DEFAULT)
    return Normalised(status, stage, None, Provider.SEVENTEENTRACK)


def from_aftership(tag: str | None, subtag: str | None = None) -> Normalised:
    """AfterShip tag + subtag; a subtag we do not know falls back to its tag (and is reported)."""
    provider = Provider.AFTERSHIP
    main = AFTERSHIP_TAG.get(tag or "")
    mapped = AFTERSHIP_SUBTAG.get(subtag or "")
    if mapped and (tag is None or (subtag or "").startswith(f"{tag}_")):
        return Normalised(mapped[0], tag, subtag, provider, mapped[1])
    if main is not None and not subtag:
        return Normalised(main, tag, subtag, provider)
    return _unknown(provider, tag, subtag, (main, None) if main is not None else _DEFAULT)


def from_cj(tracking_status: int | str | None) -> Normalised:
    """CJ `trackingStatus` (an integer, sometimes sent as a numeric string)."""
    provider = Provider.CJ
    raw = None if tracking_status is None else str(tracking_status)
    try:
        mapped = CJ_TRACKING_STATUS.get(int(str(tracking_status).strip()))
    except ValueError:
        mapped = None
    if mapped is None:
        return _unknown(provider, raw, None, _DEFAULT)
    return Normalised(mapped[0], raw, None, provider, mapped[1])


def from_shopify(shipment_status: str | None) -> Normalised:
    """Shopify fulfilment `shipment_status` (REST lower case or GraphQL upper case)."""
    provider = Provider.SHOPIFY
    if shipment_status is None:
        return Normalised(S.PENDING, None, None, provider)
    mapped = SHOPIFY_SHIPMENT_STATUS.get(shipment_status.lower())
    if mapped is None:
        return _unknown(provider, shipment_status, None, _DEFAULT)
    return Normalised(mapped[0], shipment_status, None, provider, mapped[1])


def to_shopify(status: Status, reason: Reason | None = None, *, first_transit_scan: bool = False) -> str | None:
    """The REST `shipment_status` to report to the store (upper-case it for GraphQL), or None."""
    if status == S.IN_TRANSIT and first_transit_scan:
        return "carrier_picked_up"
    if status in (S.IN_TRANSIT, S.EXCEPTION) and reason == R.DELAYED:
        return "delayed"
    return TO_SHOPIFY[status]
