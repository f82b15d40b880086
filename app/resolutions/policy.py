"""The shop's resolution policy (shops.settings["resolutions"]) and what it offers for a problem.

Settings shape (every key optional; DEFAULTS fill the gaps):
    {"version": "2026-11-01",
     "max_auto_refund": "50.00",          # refunds/reships worth more go to the merchant's queue
     "partial_refund_percent": 30,        # of the order total
     "windows_days": {"damaged": 30, ...},  # from delivery (or from the order when not delivered)
     "remedies": {"damaged": ["reship", "partial_refund", "full_refund"], ...},
     "return_first": ["changed_mind"]}    # reasons whose refunds wait for the item to come back
Remedies: reship, partial_refund, store_credit, full_refund, return_first. Within policy
(inside the window, amount at most max_auto_refund, not a return-first reason) refunds and reships
are carried out at once; store credit is always issued by the merchant (the queue), because it is
granted in the store's admin, not through an order.
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
}


@dataclass(frozen=True)
class Offer:
    remedy: str
    amount: Decimal | None
    # Carried out at once when accepted; otherwise the merchant decides.
    auto: bool

    def as_json(self) -> dict[str, Any]:
        return {"remedy": self.remedy, "amount": str(self.amount) if self.amount is not None else None, "auto": self.auto}


@dataclass(frozen=True)
class Policy:
    version: str
    max_auto_refund: Decimal
    partial_refund_percent: int
    windows_days: dict[str, int]
    remedies: dict[str, list[str]]
    return_first: frozenset[str]

    def canonical(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "max_auto_refund": str(self.max_auto_refund),
                "partial_refund_percent": self.partial_refund_percent,
                "windows_days": self.windows_days,
                "remedies": self.remedies,
                "return_first": sorted(self.return_first),
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
    return Policy(
        version=str(raw.get("version") or DEFAULTS["version"])[:32],
        max_auto_refund=_decimal(raw.get("max_auto_refund", DEFAULTS["max_auto_refund"]), DEFAULTS["max_auto_refund"]),
        partial_refund_percent=percent if isinstance(percent, int) and 0 < percent <= 100 else 30,
        windows_days={r: int(windows[r]) if str(windows.get(r, "")).isdigit() else 30 for r in REASONS},
        remedies={r: [m for m in remedies.get(r) or [] if m in REMEDIES] for r in REASONS},
        return_first=frozenset(r for r in (raw.get("return_first") or DEFAULTS["return_first"]) if r in REASONS),
    )


def amount_for(policy: Policy, remedy: str, total: Decimal) -> Decimal | None:
    if remedy == "full_refund":
        return total
    if remedy == "partial_refund":
        return (total * policy.partial_refund_percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return None


def offers(policy: Policy, reason: str, *, total: Decimal, since: datetime, now: datetime) -> list[Offer]:
    """What the customer may choose; empty when the problem is outside the policy's window."""
    if reason not in REASONS or now - since > timedelta(days=policy.windows_days[reason]):
        return []
    result = []
    for remedy in policy.remedies[reason]:
        amount = amount_for(policy, remedy, total)
        value = amount if amount is not None else total  # a reship costs about what was paid
        auto = (
            remedy in AUTO_REMEDIES
            and value <= policy.max_auto_refund
            and not (reason in policy.return_first and remedy in ("full_refund", "partial_refund"))
        )
        result.append(Offer(remedy=remedy, amount=amount, auto=auto))
    return result


def text(policy: Policy, reason: str, locale: str, currency: str) -> str:
    """The policy as the customer reads it before accepting; its digest is the evidence."""
    lines = [
        translate(locale, "policy.window", days=policy.windows_days[reason]),
        translate(locale, "policy.auto_limit", amount=format_money(policy.max_auto_refund, currency, locale)),
    ]
    if reason in policy.return_first:
        lines.append(translate(locale, "policy.return_first"))
    lines.append(translate(locale, "policy.version", version=policy.version))
    return "\n".join(lines)


def digest(policy: Policy, policy_text: str) -> str:
    return hashlib.sha256((policy.canonical() + "\n" + policy_text).encode()).hexdigest()
