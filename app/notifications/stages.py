"""The notification stages, and the context a caller may give a stage's message."""

from __future__ import annotations

from datetime import date
from typing import Any

STAGES = (
    "order_confirmed",
    "processing",
    "shipped",
    "out_for_delivery",
    "delivered",
    "delayed",
    "exception",
    "resolution_update",
    # No supplier has stock for some items: the customer chooses (app/stockout).
    "stock_choice",
)
# What callers may pass as schedule(..., context=...): non-personal facts the stage's template shows.
# Stored on the notification (so a retry renders the same words) and validated here.
#   delayed / exception:
#     reason           "no_first_scan" | "stalled" | "late" (delayed) or "delivery_failed" |
#                      "returning" (exception); anything else reads as a generic delay/problem
#     estimate_from    ISO date "YYYY-MM-DD", start of the honest new delivery window (optional)
#     estimate_to      ISO date, end of that window; without it the message says that the carrier
#                      has not given a new date yet and that we will write again
#     tracking_number  the parcel concerned, when the order has several (optional)
#     action           exception after a failed delivery: what the customer can do
#                      (app.status.journey.delivery_action: collect | collect_or_rearrange |
#                      check_address | contact_shop | rearrange)
#     shipment_id      our shipment id (optional, for the merchant's timeline)
#   resolution_update:
#     resolution_id, status ("submitted" | "approved" | "denied" | "awaiting_return" | "reopened" |
#     "completed"), remedy ("reship" | "partial_refund" | "store_credit" | "full_refund" |
#     "return_first" | "none"), amount (decimal string), currency, note (the merchant's words)
#   stock_choice:
#     amount (decimal string, what cancelling the items refunds), currency
# Stages that may be sent more than once per order, once per occurrence (a resolution's status).
REPEATABLE = frozenset({"resolution_update"})
CONTEXT_KEYS = frozenset(
    {
        "reason",
        "estimate_from",
        "estimate_to",
        "tracking_number",
        "action",
        "shipment_id",
        "resolution_id",
        "status",
        "remedy",
        "amount",
        "currency",
        "note",
    }
)

def clean_context(context: dict[str, Any] | None) -> dict[str, Any]:
    """The known keys of a caller's context, as JSON scalars; unknown keys are a caller's bug."""
    context = dict(context or {})
    unknown = set(context) - CONTEXT_KEYS
    if unknown:
        raise ValueError(f"unknown notification context keys {sorted(unknown)}; known: {sorted(CONTEXT_KEYS)}")
    for name in ("estimate_from", "estimate_to"):
        if context.get(name) is not None:
            value = context[name]
            context[name] = (value if isinstance(value, date) else date.fromisoformat(str(value)[:10])).isoformat()
    return {k: (v if isinstance(v, (int, float, bool)) or v is None else str(v)) for k, v in context.items()}


def base_stage(stage: str) -> str:
    """"resolution_update:12.approved" -> "resolution_update" (the template's name)."""
    return stage.partition(":")[0]
