"""Turning an order's ledger into the few steps a customer cares about, in their language.

The ledger speaks in internal event kinds (webhook snapshots, supplier calls, attempts); the
customer sees: received, paid, sent to supplier, confirmed by supplier, shipped (with carrier and
tracking link), delivered, cancelled, and each email we sent. Attempts, retries and failures are
deliberately left out: they are for the merchant's timeline, not the customer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.notifications.stages import STAGES
from app.templating import format_datetime, http_url, translator

# Canonical order of steps that share a timestamp (one snapshot can both create and pay an order).
_RANK = {
    "received": 0,
    "paid": 1,
    "supplier_placed": 2,
    "supplier_confirmed": 3,
    "shipped": 4,
    "delivered": 5,
    "cancelled": 6,
    "email": 7,
}


class LedgerEvent(Protocol):
    kind: str
    occurred_at: datetime
    data: dict[str, Any]


class ShipmentLike(Protocol):
    tracking_number: str
    carrier: str | None
    tracking_url: str | None
    shipped_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    at: datetime
    when: str
    detail: str = ""
    link: str = ""
    link_label: str = ""


def _classify(kind: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """(step key, qualifier) pairs for one ledger event; most events map to none."""
    if kind in ("order.snapshot_applied", "order.created", "order.paid", "order.cancelled"):
        changes = set(data.get("changes") or []) | {kind.rpartition(".")[2]}
        pairs = [("received", "")] if "created" in changes else []
        pairs += [("paid", "")] if "paid" in changes else []
        pairs += [("cancelled", "")] if "cancelled" in changes else []
        return pairs
    if kind == "notification.sent":
        # Repeatable stages carry an occurrence ("resolution_update:12.approved"): one line each.
        return [("email", str(data.get("stage") or "other"))]
    domain, _, action = kind.partition(".")
    if domain == "supplier_order":
        # found_existing: a retry found the order already placed at the supplier; same fact.
        if action in ("placed", "found_existing"):
            return [("supplier_placed", "")]
        if action == "confirmed":
            return [("supplier_confirmed", "")]
        if action == "shipped":
            return [("shipped", str(data.get("tracking_number") or ""))]
        # A supplier-side cancellation is not the customer's order being cancelled (we may
        # re-place it elsewhere); the order's own cancellation arrives as an order event.
        return []
    if (domain, action) in (("shipment", "created"), ("order", "shipped")):
        return [("shipped", str(data.get("tracking_number") or ""))]
    if domain in ("shipment", "tracking", "order") and action == "delivered":
        return [("delivered", "")]
    return []


def build(
    events: Iterable[LedgerEvent],
    shipments: Iterable[ShipmentLike],
    *,
    locale: str,
    timezone: str | None = None,
) -> list[Step]:
    t = translator(locale)
    shipments = list(shipments)
    tracked = {s.tracking_number for s in shipments}
    seen: set[tuple[str, str]] = set()
    steps: list[Step] = []

    def add(key: str, at: datetime, label: str, **extra: str) -> None:
        steps.append(Step(key=key, label=label, at=at, when=format_datetime(at, locale, timezone), **extra))

    for event in events:
        for key, qualifier in _classify(event.kind, event.data or {}):
            # Shipments are shown from their own rows below, with carrier and link.
            if key == "shipped" and (tracked or (key, qualifier) in seen or ("shipped", "") in seen):
                continue
            if (key, qualifier) in seen:
                continue
            seen.add((key, qualifier))
            if key == "email":
                stage = qualifier.partition(":")[0]
                # Each stage's email has its own line (templates/i18n step.email.<stage>).
                label_key = f"step.email.{stage}" if stage in STAGES else "step.email.other"
                add("email", event.occurred_at, t(label_key))
            else:
                add(key, event.occurred_at, t(f"step.{key}"))
    for shipment in shipments:
        carrier = (shipment.carrier or "").strip()
        link = http_url(shipment.tracking_url)
        add(
            "shipped",
            shipment.shipped_at or shipment.created_at,
            t("step.shipped_with", carrier=carrier) if carrier else t("step.shipped"),
            detail=t("step.tracking_number", number=shipment.tracking_number),
            link=link,
            link_label=t("status.track_parcel") if link else "",
        )
    steps.sort(key=lambda step: (step.at, _RANK.get(step.key, 9)))
    return steps
