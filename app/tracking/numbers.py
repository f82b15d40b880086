"""Tracking-number validation and carrier detection: pure functions, no network, no data files.

    from app.tracking.numbers import detect, validate
    validate("1Z 879E93 0346834440")  # -> Match(carrier="ups", format="UPS", tracking_url=..., ...)

The format table and check-digit rules live in app/tracking/formats.py (transcribed from the
MIT-licensed tracking_number_data project; see there for attribution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.tracking.formats import CARRIER_NAMES, FORMATS, Format
from app.tracking.s10_countries import S10_OPERATORS

# Nothing a carrier issues is longer than this (DHL eCommerce allows 2 + 39 characters); anything
# longer is refused before any pattern runs, so hostile input costs nothing.
MAX_LENGTH = 64

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")


@dataclass(frozen=True)
class Match:
    carrier: str  # short id: "ups", "fedex", "usps", "dhl", "s10", ...
    carrier_name: str  # for S10 numbers, the postal operator of the issuing country
    format: str  # e.g. "FedEx Express (12)"
    format_id: str
    number: str  # normalised: no spaces or dashes, upper case
    tracking_url: str | None
    country: str | None = None  # ISO code of the issuing post, S10 numbers only
    # A supplier lane's number: believed only once the aggregator recognises it.
    needs_aggregator: bool = False


# --- public interface ---------------------------------------------------------------------------


def normalise(number: str) -> str:
    """Drop whitespace and dashes, upper-case: how carriers' own lookups read a pasted number."""
    return _SEPARATORS.sub("", number).upper()


def match_format(fmt: Format, number: str) -> Match | None:
    """`number` checked against one format (shape, check digit, S10 country); None if it fails."""
    normalised = normalise(number)
    if not normalised or len(normalised) > MAX_LENGTH:
        return None
    found = fmt.pattern.fullmatch(normalised)
    if found is None:
        return None
    groups = found.groupdict()
    if fmt.checksum is not None:
        serial = groups["SerialNumber"]
        if fmt.serial_prefix is not None and fmt.serial_prefix[1].match(serial):
            serial = fmt.serial_prefix[0] + serial
        if not fmt.checksum(serial, groups["CheckDigit"]):
            return None
    carrier_name = CARRIER_NAMES[fmt.carrier]
    country = None
    if fmt.needs_s10_country:
        country = groups["CountryCode"]
        operator = S10_OPERATORS.get(country)
        if operator is None:
            return None
        carrier_name = operator[1]
    url = fmt.tracking_url.replace("%s", normalised) if fmt.tracking_url else None
    return Match(fmt.carrier, carrier_name, fmt.name, fmt.id, normalised, url, country, fmt.needs_aggregator)


def detect(number: str) -> list[Match]:
    """Every format that accepts the number, most specific first (see FORMATS)."""
    normalised = normalise(number)
    if not normalised or len(normalised) > MAX_LENGTH:
        return []
    return [found for fmt in FORMATS if (found := match_format(fmt, normalised)) is not None]


def validate(number: str) -> Match | None:
    """The best match for the number, or None when no carrier format accepts it."""
    matches = detect(number)
    return matches[0] if matches else None
