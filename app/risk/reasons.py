"""Each feature as a reason a merchant can read, with what to do about it.

One table: the feature's phrase key (templates/i18n/<locale>.json "risk.reason.<feature>"), the
sentiment it has on Shopify's risk card when it raises the risk, and the recommended actions
("risk.action.<action>"). Reasons are always the model's own attributions (a rule's points, or a
learned model's per-feature contribution), never a separate guess.
"""

from __future__ import annotations

import math
from typing import Any

from app.risk.features import FEATURES
from app.templating import translate

ACTIONS = ("verify_address", "signature_on_delivery", "faster_shipping", "cancel_before_supplier_paid",
           "contact_customer", "tracked_shipping", "check_supplier")

# feature -> the actions that answer it when it raises the risk
RECOMMENDED: dict[str, tuple[str, ...]] = {
    "forwarder": ("verify_address", "cancel_before_supplier_paid"),
    "po_box": ("verify_address", "tracked_shipping"),
    "country_mismatch": ("verify_address", "contact_customer"),
    "name_mismatch": ("verify_address", "signature_on_delivery"),
    "ip_mismatch": ("verify_address", "contact_customer"),
    "email_digits": ("contact_customer",),
    "email_disposable": ("contact_customer", "cancel_before_supplier_paid"),
    "email_name_mismatch": ("contact_customer",),
    "value_vs_median": ("signature_on_delivery", "verify_address"),
    "quantity": ("contact_customer", "signature_on_delivery"),
    "returning_customer": (),
    "prior_refunds": ("signature_on_delivery", "contact_customer"),
    "prior_disputes": ("signature_on_delivery", "cancel_before_supplier_paid"),
    "product_rate": ("check_supplier", "contact_customer"),
    "supplier_rate": ("check_supplier", "faster_shipping"),
    "destination_rate": ("tracked_shipping", "faster_shipping", "signature_on_delivery"),
    "carrier_rate": ("faster_shipping", "tracked_shipping"),
    "supplier_late": ("contact_customer", "check_supplier"),
    "no_first_scan": ("check_supplier", "contact_customer"),
    "delayed": ("contact_customer", "faster_shipping"),
    "delivery_problem": ("contact_customer", "verify_address"),
    "complaint": ("contact_customer",),
}
assert set(RECOMMENDED) == set(FEATURES), "every feature needs its actions (possibly none)"
# Contributions smaller than this (log-odds) are not worth a merchant's attention.
MIN_WEIGHT = 0.1
TOP = 4


def top(contributions: dict[str, float], params: dict[str, dict[str, Any]], *, limit: int = TOP) -> list[dict]:
    """The strongest risk-raising contributions, strongest first, as stored with the score."""
    raising = sorted(((w, name) for name, w in contributions.items() if w >= MIN_WEIGHT), reverse=True)
    return [{"key": name, "weight": round(w, 3), "params": params.get(name, {})} for w, name in raising[:limit]]


def lowering(contributions: dict[str, float], params: dict[str, dict[str, Any]], *, limit: int = 3) -> list[dict]:
    falling = sorted((w, name) for name, w in contributions.items() if w <= -MIN_WEIGHT)
    return [{"key": name, "weight": round(w, 3), "params": params.get(name, {})} for w, name in falling[:limit]]


def percent(probability: float) -> str:
    return f"{math.floor(probability * 100 + 0.5)}%"


def raising(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in stored if r["weight"] > 0]


def lowered(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in stored if r["weight"] < 0]


def phrase(reason: dict[str, Any], locale: str, *, lowers: bool = False) -> str:
    key = f"risk.reason.{reason['key']}" + (".lower" if lowers else "")
    return translate(locale, key, **(reason.get("params") or {}))


def actions_for(reasons: list[dict[str, Any]]) -> list[str]:
    """The recommended actions for these reasons, most pressing reason's first, each once."""
    seen: list[str] = []
    for reason in reasons:
        for action in RECOMMENDED.get(reason["key"], ()):
            if action not in seen:
                seen.append(action)
    return seen


def action_phrase(action: str, locale: str) -> str:
    return translate(locale, f"risk.action.{action}")


def level_phrase(level: str, locale: str) -> str:
    return translate(locale, f"risk.level.{level}")


def hold_line(locale: str, probability: str, level: str, threshold: str, why: str, actions: list[str]) -> str:
    return translate(locale, "risk.hold", probability=probability, level=level_phrase(level, locale),
                     threshold=threshold, reasons=why,
                     actions="; ".join(action_phrase(a, locale).rstrip(".") for a in actions[:2]) or "-")
