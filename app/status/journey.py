"""The one state machine behind the status page's heading: order, parcels, claims and refunds.

Pure (no I/O): the page, its tests and the e-mails read the same answer. The customer sees one of

    processing -> shipped -> in_transit -> out_for_delivery -> delivered
                                              \\-> delivery_failed (what to do: collect / rearrange / …)
                                              \\-> delivery_problem (exception, on its way back)
    refunded | partially_refunded (only money the store CONFIRMED it returned)
    cancelled

Rules, in order:
1. A cancelled order is cancelled (its refund, if any, is said under it).
2. Money the store confirmed it returned decides "refunded" (the whole total) or "partially refunded";
   a refund still pending is not a refund: it is a note, never the heading.
3. Otherwise the parcels decide. A parcel the customer was not told about (number held back) does
   not count. With several parcels the one needing the customer wins (failed delivery, then a
   problem), then the least advanced one: "delivered" only when every parcel is.
4. No parcel yet: processing.
The delivery state is kept next to a refund heading, so a partly refunded parcel still says where it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# The progress bar's stops, in order (delivery_failed sits on out_for_delivery's stop).
PROGRESS = ("processing", "shipped", "in_transit", "out_for_delivery", "delivered")
STATES = (*PROGRESS, "delivery_failed", "delivery_problem", "refunded", "partially_refunded", "cancelled")

# Our shipment statuses (app.tracking.statuses.Status) as the customer's delivery state.
_PARCEL_STATE = {
    "pending": "shipped",
    "info_received": "shipped",
    "expired": "in_transit",  # the carrier stopped reporting: the parcel is still on its way
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "delivery_failed",
    "delivery_failed": "delivery_failed",
    "delivered": "delivered",
    "exception": "delivery_problem",
    "returning": "delivery_problem",
    "returned": "delivery_problem",
    "invalid": "shipped",
}
# Where the branches sit on the progress bar.
_STOP = {"delivery_failed": "out_for_delivery", "delivery_problem": "in_transit"}
# Which parcel speaks for the order: the customer must act > we are on a problem > least advanced.
_URGENCY = {"delivery_failed": 0, "delivery_problem": 1}

# What a failed delivery can ask of the customer (templates/i18n journey.action.<name>).
ACTIONS = ("collect", "collect_or_rearrange", "check_address", "contact_shop", "rearrange")
# What the customer can do after a failed delivery, by the carrier's reason (statuses.Reason).
# A parcel waiting at a pickup point or a "nobody home" attempt means the carrier left a notice.
_ACTIONS = {
    "recipient_unavailable": "collect_or_rearrange",
    "pickup_missed": "collect_or_rearrange",
    "security": "collect_or_rearrange",
    "address_issue": "check_address",
    "refused": "contact_shop",
}


@dataclass(frozen=True)
class Parcel:
    status: str
    reason: str | None = None
    announced: bool = True


@dataclass(frozen=True)
class Journey:
    state: str  # the heading, one of STATES
    delivery: str  # where the goods are, one of PROGRESS or delivery_failed/delivery_problem
    # For delivery_failed: collect (at a pickup point) | collect_or_rearrange | check_address |
    # contact_shop | rearrange (no reason given)
    action: str = ""
    refund_pending: bool = False
    request_open: bool = False

    @property
    def progress(self) -> int:
        """Index of the stop reached on the progress bar (PROGRESS)."""
        return PROGRESS.index(_STOP.get(self.delivery, self.delivery))


def _parcel_state(parcel: Parcel) -> str:
    return _PARCEL_STATE.get(parcel.status, "shipped")


def _delivery(parcels: Iterable[Parcel]) -> tuple[str, str]:
    told = [p for p in parcels if p.announced]
    if not told:
        return "processing", ""
    def rank(parcel: Parcel) -> tuple[int, int]:
        state = _parcel_state(parcel)
        return _URGENCY.get(state, 9), PROGRESS.index(_STOP.get(state, state))

    worst = min(told, key=rank)
    state = _parcel_state(worst)
    return state, delivery_action(worst.status, worst.reason)


def delivery_action(status: str, reason: str | None) -> str:
    """What the customer can do about a parcel in this status ("" when nothing is theirs to do)."""
    if _PARCEL_STATE.get(status) != "delivery_failed":
        return ""
    if status == "available_for_pickup":
        return "collect"
    return _ACTIONS.get(reason or "", "rearrange")


def derive(
    *,
    order_status: str,
    total: Decimal,
    parcels: Iterable[Parcel] = (),
    refunded: Decimal = Decimal(0),
    refund_pending: Decimal = Decimal(0),
    open_requests: int = 0,
) -> Journey:
    delivery, action = _delivery(parcels)
    if order_status == "delivered" and delivery == "processing":
        delivery = "delivered"  # the store marked it delivered without parcels we follow
    facts = {"refund_pending": refund_pending > 0, "request_open": open_requests > 0}
    if order_status == "cancelled":
        return Journey("cancelled", delivery, "", **facts)
    if refunded > 0:
        state = "refunded" if refunded >= total else "partially_refunded"
        return Journey(state, delivery, action, **facts)
    return Journey(delivery, delivery, action, **facts)
