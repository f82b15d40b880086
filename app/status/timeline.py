"""Turning an order's ledger into the few steps a customer cares about, in their language.

The ledger speaks in internal event kinds (webhook snapshots, supplier calls, attempts); the
customer sees: received, paid, sent to the warehouse, being prepared there (the merchant names the
place, "our warehouse" by default: a customer never reads "supplier"), shipped (with carrier and
tracking number), delivered, refunds the store confirmed, cancelled, and each email we sent. Attempts, retries and failures are
deliberately left out: they are for the merchant's timeline, not the customer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.notifications.stages import STAGES
from app.status import carrier_links
from app.templating import format_datetime, translator

# Canonical order of steps that share a timestamp (one snapshot can both create and pay an order).
_RANK = {
    "received": 0,
    "paid": 1,
    "sent_to_warehouse": 2,
    "preparing": 3,
    "shipped": 4,
    "delivered": 5,
    "refunded": 6,
    "cancelled": 7,
    "email": 8,
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
            return [("sent_to_warehouse", "")]
        if action == "confirmed":
            return [("preparing", "")]
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
    warehouse: str = "",
    held: Iterable[str] = (),
    refunds: Iterable[tuple[datetime, str]] = (),
) -> list[Step]:
    """held: tracking numbers not announced yet (their shipping is not a step until they are);
    refunds: (when, amount as text) of refunds the store confirmed."""
    t = translator(locale)
    warehouse = warehouse or t("wording.warehouse")
    shipments = list(shipments)
    tracked = {s.tracking_number for s in shipments} | set(held)
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
                add(key, event.occurred_at, t(f"step.{key}", warehouse=warehouse))
    for shipment in shipments:
        carrier = (shipment.carrier or "").strip()
        link = carrier_links.link(carrier, shipment.tracking_number, shipment.tracking_url, locale)
        add(
            "shipped",
            shipment.shipped_at or shipment.created_at,
            t("step.shipped_with", carrier=carrier) if carrier else t("step.shipped"),
            detail=t("step.tracking_number", number=shipment.tracking_number),
            link=link,
            link_label=t("status.track_parcel") if link else "",
        )
    for at, amount in refunds:
        add("refunded", at, t("step.refunded", amount=amount))
    steps.sort(key=lambda step: (step.at, _RANK.get(step.key, 9)))
    return steps
