"""The shop's resolution policy (shops.settings["resolutions"]) and what it offers for a problem.

Settings shape (every key optional; DEFAULTS fill the gaps):
    {"version": "2026-11-01",
     "max_auto_refund": "50.00",          # refunds/reships worth more go to the merchant's queue
     "partial_refund_percent": 30,        # of the order total
     "windows_days": {"damaged": 30, ...},  # from delivery (or from the order when not delivered)
     "remedies": {"damaged": ["reship", "partial_refund", "full_refund"], ...},
     "return_first": ["changed_mind"],    # reasons whose refunds wait for the item to come back
     "photo_required": ["damaged", ...],  # reasons a claim cannot be made for without a photo
     "not_received_after_days": 20}       # "not received" from this many days after the order
Remedies: reship, partial_refund, store_credit, full_refund, return_first. Within policy
(inside the window, amount at most max_auto_refund, not a return-first reason) refunds and reships
are carried out at once; store credit is always issued by the merchant (the queue), because it is
granted in the store's admin, not through an order.

`assess` is the one place a claim is judged, so that it cannot be gamed:
- evidence: a reason in photo_required needs at least one photo (refused without, nothing stored);
- parcel state: "not received" only once the parcel is overdue (not_received_after_days after the
  order and two days past the carrier's own estimate) or the carrier reports it lost or returning;
  reasons about the item itself (AFTER_DELIVERY) only once the carrier has delivered it; a "not
  received" claim for a parcel the carrier reports delivered is never decided automatically;
- money: the automatic limit is in the shop's currency. We hold no exchange rate, so an order paid
  in another currency is never decided automatically: every offer goes to the merchant, who sees why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.shops.models import Shop
from app.templating import format_money, translate

REASONS = ("not_received", "damaged", "not_as_described", "wrong_item", "changed_mind")
REMEDIES = ("reship", "partial_refund", "store_credit", "full_refund", "return_first")
AUTO_REMEDIES = frozenset({"reship", "partial_refund", "full_refund"})
DEFAULTS: dict[str, Any] = {
    "version": "default-1",
    "max_auto_refund": "50.00",
    "partial_refund_percent": 30,
    "windows_days": {"not_received": 60, "damaged": 30, "not_as_described": 30, "wrong_item": 30, "changed_mind": 14},
    "remedies": {
        "not_received": ["reship", "full_refund"],
        "damaged": ["reship", "partial_refund", "full_refund"],
        "not_as_described": ["partial_refund", "return_first"],
        "wrong_item": ["reship", "return_first"],
        "changed_mind": ["return_first", "store_credit"],
    },
    "return_first": ["changed_mind"],
    "photo_required": ["damaged", "not_as_described", "wrong_item"],
    "not_received_after_days": 20,
}
# Problems with the item itself: they can only be known once it arrived.
AFTER_DELIVERY = frozenset({"damaged", "not_as_described", "wrong_item"})
# Days past the carrier's own estimate before a parcel counts as not received.
ESTIMATE_GRACE_DAYS = 2


@dataclass(frozen=True)
class Offer:
    remedy: str
    amount: Decimal | None
    # Carried out at once when accepted; otherwise the merchant decides.
    auto: bool
    # Why it is (or is not) automatic, as codes the merchant's queue explains (HOLD_TEXT keys).
    why: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"remedy": self.remedy, "amount": str(self.amount) if self.amount is not None else None,
                "auto": self.auto, "why": list(self.why)}


@dataclass(frozen=True)
class Policy:
    version: str
    max_auto_refund: Decimal
    partial_refund_percent: int
    windows_days: dict[str, int]
    remedies: dict[str, list[str]]
    return_first: frozenset[str]
    photo_required: frozenset[str] = frozenset(DEFAULTS["photo_required"])
    not_received_after_days: int = DEFAULTS["not_received_after_days"]

    def canonical(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "max_auto_refund": str(self.max_auto_refund),
                "partial_refund_percent": self.partial_refund_percent,
                "windows_days": self.windows_days,
                "remedies": self.remedies,
                "return_first": sorted(self.return_first),
                "photo_required": sorted(self.photo_required),
                "not_received_after_days": self.not_received_after_days,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def _decimal(value: Any, default: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(default)
    return number if number.is_finite() and number >= 0 else Decimal(default)


def for_shop(shop: Shop) -> Policy:
    """The shop's policy; malformed parts fall back to DEFAULTS rather than breaking the page."""
    raw = (shop.settings or {}).get("resolutions") or {}
    raw = raw if isinstance(raw, dict) else {}
    remedies = {**DEFAULTS["remedies"], **(raw.get("remedies") if isinstance(raw.get("remedies"), dict) else {})}
    windows = {**DEFAULTS["windows_days"], **(raw.get("windows_days") if isinstance(raw.get("windows_days"), dict) else {})}
    percent = raw.get("partial_refund_percent", DEFAULTS["partial_refund_percent"])
    photo_required = raw.get("photo_required", DEFAULTS["photo_required"])
    after = raw.get("not_received_after_days", DEFAULTS["not_received_after_days"])
    return Policy(
        version=str(raw.get("version") or DEFAULTS["version"])[:32],
        max_auto_refund=_decimal(raw.get("max_auto_refund", DEFAULTS["max_auto_refund"]), DEFAULTS["max_auto_refund"]),
        partial_refund_percent=percent if isinstance(percent, int) and 0 < percent <= 100 else 30,
        windows_days={r: int(windows[r]) if str(windows.get(r, "")).isdigit() else 30 for r in REASONS},
        remedies={r: [m for m in remedies.get(r) or [] if m in REMEDIES] for r in REASONS},
        return_first=frozenset(r for r in (raw.get("return_first") or DEFAULTS["return_first"]) if r in REASONS),
        photo_required=frozenset(r for r in (photo_required if isinstance(photo_required, list) else []) if r in REASONS),
        not_received_after_days=after if isinstance(after, int) and 0 <= after <= 365
        else DEFAULTS["not_received_after_days"],
    )


def amount_for(policy: Policy, remedy: str, total: Decimal) -> Decimal | None:
    if remedy == "full_refund":
        return total
    if remedy == "partial_refund":
        return (total * policy.partial_refund_percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return None


@dataclass(frozen=True)
class Parcel:
    """What the carrier told us about the order's parcels, as the claim needs it."""

    placed_at: datetime
    delivered_at: datetime | None = None
    # The carrier's latest estimate of delivery, when it gave one.
    expected_by: datetime | None = None
    # The carrier reports the parcel lost, destroyed or on its way back.
    lost: bool = False


@dataclass(frozen=True)
class Assessment:
    """A claim judged: refused (nothing is opened; `refusal` is the customer's text key, with the
    date it becomes possible), or opened with its offers (none: outside the window, the queue)."""

    refusal: str | None = None
    available_from: datetime | None = None
    offers: tuple[Offer, ...] = ()

    @property
    def opened(self) -> bool:
        return self.refusal is None


def not_received_due(policy: Policy, parcel: Parcel) -> datetime:
    """When a parcel not yet delivered counts as not received."""
    due = parcel.placed_at + timedelta(days=policy.not_received_after_days)
    if parcel.expected_by is not None:
        due = max(due, parcel.expected_by + timedelta(days=ESTIMATE_GRACE_DAYS))
    return due


def assess(policy: Policy, reason: str, *, parcel: Parcel, total: Decimal, currency: str, shop_currency: str,
           photos: int, now: datetime) -> Assessment:
    """The one judgement of a claim (see the module's docstring)."""
    if reason not in REASONS:
        return Assessment(refusal="resolution.bad_reason")
    if reason in policy.photo_required and photos < 1:
        return Assessment(refusal="resolution.photo_required")
    if reason in AFTER_DELIVERY and parcel.delivered_at is None:
        return Assessment(refusal="resolution.not_delivered_yet")
    holds: list[str] = []
    if reason == "not_received" and parcel.delivered_at is not None:
        holds.append("carrier_says_delivered")
    elif reason == "not_received" and not parcel.lost:
        due = not_received_due(policy, parcel)
        if now < due:
            return Assessment(refusal="resolution.not_yet_due", available_from=due)
    since = parcel.delivered_at or parcel.placed_at
    if now - since > timedelta(days=policy.windows_days[reason]):
        return Assessment()  # outside the window: the merchant decides
    if currency.upper() != shop_currency.upper():
        holds.append("other_currency")
    return Assessment(offers=tuple(_offer(policy, reason, remedy, total, holds)
                                   for remedy in policy.remedies[reason]))


def _offer(policy: Policy, reason: str, remedy: str, total: Decimal, holds: list[str]) -> Offer:
    amount = amount_for(policy, remedy, total)
    value = amount if amount is not None else total  # a reship costs about what was paid
    why = list(holds)
    if remedy not in AUTO_REMEDIES:
        why.append("merchant_remedy")
    if reason in policy.return_first and remedy in ("full_refund", "partial_refund"):
        why.append("return_first")
    if "other_currency" not in holds and value > policy.max_auto_refund:
        why.append("over_limit")
    if why:
        return Offer(remedy=remedy, amount=amount, auto=False, why=tuple(why))
    evidence = ("photo",) if reason in policy.photo_required else ()
    return Offer(remedy=remedy, amount=amount, auto=True, why=("within_window", "within_limit", *evidence))


def refund_instead(policy: Policy, reason: str, *, total: Decimal, currency: str, shop_currency: str) -> Offer:
    """The next remedy when a reship failed (the supplier refused it): a full refund, automatic on
    the same terms as any other offer (limit, currency, return first)."""
    holds = ["other_currency"] if currency.upper() != shop_currency.upper() else []
    offer = _offer(policy, reason, "full_refund", total, holds)
    return Offer(remedy=offer.remedy, amount=offer.amount, auto=offer.auto, why=("reship_refused", *offer.why))


def text(policy: Policy, reason: str, locale: str, currency: str) -> str:
    """The policy as the customer reads it before accepting; its digest is the evidence."""
    lines = [
        translate(locale, "policy.window", days=policy.windows_days[reason]),
        translate(locale, "policy.auto_limit", amount=format_money(policy.max_auto_refund, currency, locale)),
    ]
    if reason in policy.return_first:
        lines.append(translate(locale, "policy.return_first"))
    if reason in policy.photo_required:
        lines.append(translate(locale, "policy.photo_required"))
    lines.append(translate(locale, "policy.version", version=policy.version))
    return "\n".join(lines)


def digest(policy: Policy, policy_text: str) -> str:
    return hashlib.sha256((policy.canonical() + "\n" + policy_text).encode()).hexdigest()
