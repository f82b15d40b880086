"""Shipping addresses made fit for a supplier: fixed where a fix is certain, refused otherwise.

A typo that reaches the supplier becomes a lost parcel and a refund, so each rule either repairs
the value with no guess (case, spacing, a leading zero a spreadsheet dropped, a country name for
its code, a phone number written nationally) or names the problem for the merchant's review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import pycountry

from app.suppliers.protocols import Address, province_name

# Postcode formats, matched after normalise_postcode (upper case, single spaces).
POSTCODE = {
    "US": re.compile(r"^\d{5}(-\d{4})?$"),
    "CA": re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] \d[ABCEGHJ-NPRSTV-Z]\d$"),
    "GB": re.compile(r"^(GIR 0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2})$"),
    "FR": re.compile(r"^\d{5}$"),
    "DE": re.compile(r"^\d{5}$"),
    "ES": re.compile(r"^(0[1-9]|[1-4]\d|5[0-2])\d{3}$"),
    "AU": re.compile(r"^\d{4}$"),
    "NL": re.compile(r"^[1-9]\d{3} [A-Z]{2}$"),
    "IT": re.compile(r"^\d{5}$"),
}
# Five-digit postcodes whose leading zero a spreadsheet strips (01000 -> 1000).
_ZERO_PADDED = {"US": 5, "FR": 5, "DE": 5, "ES": 5, "IT": 5}
# Countries where a supplier cannot ship without the state or province.
NEEDS_PROVINCE = frozenset({"US", "CA", "AU"})


@dataclass
class Checked:
    address: Address | None
    problems: list[str] = field(default_factory=list)  # may quote the customer's values: personal
    fixes: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # which fields have problems: safe for the ledger

    def add(self, field_name: str, problem: str) -> None:
        self.fields.append(field_name)
        self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return self.address is not None and not self.problems


def country_code(value: str | None) -> str | None:
    """ISO alpha-2 for a code (alpha-2 or alpha-3) or an English country name; None if unknown."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) == 2:
        found = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3:
        found = pycountry.countries.get(alpha_3=text.upper())
    else:
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            found = None
    if found is None and text.upper() == "UK":  # not ISO, but what people write
        return "GB"
    return found.alpha_2 if found else None


def normalise_postcode(country: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = re.sub(r"\s+", " ", value.strip().upper())
    if not text:
        return None
    compact = text.replace(" ", "")
    if country in ("CA", "GB") and len(compact) > 3:
        return compact[:-3] + " " + compact[-3:]  # the inward code is always the last three
    if country == "NL" and re.fullmatch(r"\d{4}[A-Z]{2}", compact):
        return compact[:4] + " " + compact[4:]
    if country == "US" and re.fullmatch(r"\d{9}", compact):
        return compact[:5] + "-" + compact[5:]
    width = _ZERO_PADDED.get(country)
    if width and compact.isdigit() and len(compact) == width - 1:
        return compact.zfill(width)
    return compact if country in POSTCODE else text


def e164(phone: str | None, country: str) -> tuple[str | None, str | None]:
    """(E.164 number, problem); a missing phone is no problem."""
    if not phone or not phone.strip():
        return None, None
    try:
        parsed = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException as error:
        return None, f"phone {phone!r} cannot be read ({error})"
    if not phonenumbers.is_valid_number(parsed):
        return None, f"phone {phone!r} is not a valid number for {country}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None


def _clean(value: Any) -> str | None:
    text = re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""
    return text or None


def check(record: Any, *, fallback_name: str | None = None, email: str | None = None) -> Checked:
    """Normalise a DeliveryAddress-like record; every problem says what a person must fix."""
    if record is None:
        return Checked(None, ["the order has no shipping address"], fields=["address"])
    result = Checked(None)
    raw_country = getattr(record, "country_code", None)
    country = country_code(raw_country)
    if country is None:
        result.add("country_code", f"country {raw_country!r} is not a known country code" if raw_country
                   else "the country is missing")
        return result
    if raw_country and raw_country.strip() != country:
        result.fixes.append("country_code")
    name = _clean(getattr(record, "name", None)) or _clean(fallback_name)
    address1, city = _clean(getattr(record, "address1", None)), _clean(getattr(record, "city", None))
    for name_of, label, value in (("name", "recipient name", name), ("address1", "street address", address1),
                                  ("city", "city", city)):
        if not value:
            result.add(name_of, f"the {label} is missing")
    province_code = (_clean(getattr(record, "province_code", None)) or "").upper() or None
    if province_code and province_code.startswith(country + "-"):  # "US-NJ" -> "NJ"
        province_code = province_code[len(country) + 1:]
        result.fixes.append("province_code")
    if country in NEEDS_PROVINCE:
        if not province_code:
            result.add("province_code", f"the state/province is missing (required for {country})")
        elif pycountry.subdivisions.get(code=f"{country}-{province_code}") is None:
            result.add("province_code", f"province {province_code!r} is not a {country} state/province code")
    raw_zip = getattr(record, "zip", None)
    postcode = normalise_postcode(country, raw_zip)
    if postcode != (raw_zip.strip() if raw_zip else None):
        result.fixes.append("zip")
    pattern = POSTCODE.get(country)
    if pattern is not None:
        if not postcode:
            result.add("zip", f"the postcode is missing (required for {country})")
        elif not pattern.match(postcode):
            result.add("zip", f"postcode {raw_zip!r} does not match the {country} format")
    phone, problem = e164(getattr(record, "phone", None), country)
    if problem:
        result.add("phone", problem)
    elif phone and phone != getattr(record, "phone", None):
        result.fixes.append("phone")
    if result.problems:
        return result
    result.address = Address(
        name=name or "",
        company=_clean(getattr(record, "company", None)),
        address1=address1 or "",
        address2=_clean(getattr(record, "address2", None)),
        city=city or "",
        province=province_name(country, province_code),
        province_code=province_code,
        zip=postcode,
        country_code=country,
        phone=phone,
        email=email,
    )
    return result
