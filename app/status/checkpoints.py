"""The carrier's scans as the customer reads them: what happened (in their language), where, when.

The carrier's own description is not shown: it comes in the carrier's language (often Chinese or
English) and words of its own; our normalised status of the scan is translated instead. The place
is the scan's location, its country code turned into the country's name in the customer's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from app.templating import country_name, format_datetime, translator
from app.tracking.statuses import Status

SCAN = "tracking.scan"
_COUNTRY_AT_END = re.compile(r"^(?P<rest>.*?)[,\s]*\b(?P<code>[A-Z]{2})$")
_KNOWN = {status.value for status in Status}


@dataclass(frozen=True)
class Checkpoint:
    status: str
    label: str
    place: str
    at: datetime
    when: str


def place(location: str | None, locale: str) -> str:
    """"SHENZHEN, CN" -> "Shenzhen, China"; a bare country code becomes the country's name."""
    text = " ".join((location or "").split())[:120]
    if not text:
        return ""
    match = _COUNTRY_AT_END.match(text)
    if match:
        country = country_name(match.group("code"), locale)
        if country and country != match.group("code"):
            rest = match.group("rest").strip(" ,")
            rest = rest.title() if rest.isupper() else rest
            # "Hong Kong, HK" is Hong Kong, not "Hong Kong, Hong Kong".
            return f"{rest}, {country}" if rest and rest.lower() != country.lower() else country
    return text.title() if text.isupper() else text


def for_shipment(rows, shipment_id: int, *, locale: str, timezone: str | None) -> list[Checkpoint]:
    """rows: (kind, occurred_at, data, location) ledger rows of the order; newest scan first."""
    t = translator(locale)
    found: list[Checkpoint] = []
    seen: set[tuple[str, datetime]] = set()
    for kind, occurred_at, data, location in rows:
        data = data or {}
        if kind != SCAN or data.get("shipment_id") != shipment_id:
            continue
        status = str(data.get("status") or "")
        status = status if status in _KNOWN else "update"  # a scan the carrier gave no status for
        if (status, occurred_at) in seen:  # the same scan reported by two providers
            continue
        seen.add((status, occurred_at))
        found.append(Checkpoint(status, t(f"checkpoint.{status}"), place(location, locale), occurred_at,
                                format_datetime(occurred_at, locale, timezone)))
    found.sort(key=lambda checkpoint: checkpoint.at, reverse=True)
    return found
