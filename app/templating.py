"""One Jinja2 environment for pages and emails, with the small i18n they need (en, fr, es, de).

Strings live in templates/i18n/<locale>.json, so the wording of every page and email is edited in
one place per language. HTML templates are autoescaped; .txt templates (email text parts and
subjects) are not, because they are never interpreted as markup.
"""

from __future__ import annotations

import gettext
import json
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.paths import TEMPLATES

LOCALES = ("en", "fr", "es", "de")
DEFAULT_LOCALE = "en"

# Symbols customers recognise; anything else is shown with its ISO code.
_SYMBOLS = {
    "en": {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥", "NZD": "NZ$"},
    "fr": {"USD": "$US", "EUR": "€", "GBP": "£GB", "CAD": "$CA", "AUD": "$AU", "JPY": "JPY", "CHF": "CHF"},
    "es": {"USD": "US$", "EUR": "€", "GBP": "GBP", "CAD": "CA$", "AUD": "AUD", "JPY": "JPY", "MXN": "MXN"},
    "de": {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "AU$", "JPY": "¥", "CHF": "CHF"},
}
# (decimal separator, group separator); fr uses a narrow no-break space as CLDR does.
_SEPARATORS = {"en": (".", ","), "fr": (",", "\u202f"), "es": (",", "."), "de": (",", ".")}
_ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"}


def normalise_locale(value: str | None) -> str:
    language = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return language if language in LOCALES else DEFAULT_LOCALE


@lru_cache
def catalogue(locale: str) -> dict[str, Any]:
    with (TEMPLATES / "i18n" / f"{locale}.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def translate(locale: str, key: str, **params: Any) -> str:
    """The phrase for key in locale (English if the locale lacks it), with {params} filled in."""
    text = catalogue(normalise_locale(locale)).get(key)
    if not isinstance(text, str):
        text = catalogue(DEFAULT_LOCALE).get(key)
    if not isinstance(text, str):
        raise KeyError(f"no phrase {key!r} in templates/i18n/{DEFAULT_LOCALE}.json")
    return text.format(**params) if params else text


def translator(locale: str) -> Callable[..., str]:
    locale = normalise_locale(locale)

    def t(key: str, **params: Any) -> str:
        return translate(locale, key, **params)

    return t


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


def format_money(amount: Decimal | float | str | None, currency: str, locale: str) -> str:
    locale = normalise_locale(locale)
    currency = (currency or "").upper()
    value = Decimal(str(amount if amount is not None else 0))
    places = 0 if currency in _ZERO_DECIMAL else 2
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):.{places}f}".partition(".")
    decimal_sep, group_sep = _SEPARATORS[locale]
    number = _group(whole, group_sep) + (decimal_sep + fraction if fraction else "")
    symbol = _SYMBOLS[locale].get(currency, currency)
    if locale == "en":
        # "$39.80", but "CHF 39.80" when the symbol is a code
        return f"{sign}{symbol}{number}" if not symbol.isalpha() else f"{sign}{symbol}\u00a0{number}"
    return f"{sign}{number}\u00a0{symbol}"


def format_number(value: float | int | Decimal | None, locale: str, places: int = 0) -> str:
    """A plain number in the language's separators: 12,345.6 (en), 12 345,6 (fr)."""
    if value is None:
        return ""
    decimal_sep, group_sep = _SEPARATORS[normalise_locale(locale)]
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):.{places}f}".partition(".")
    return sign + _group(whole, group_sep) + (decimal_sep + fraction if fraction else "")


def format_percent(share: float | None, locale: str, places: int = 1) -> str:
    """A share (0.125) as a percentage: 12.5% (en), 12,5 % (fr, with a narrow no-break space)."""
    if share is None:
        return ""
    number = format_number(share * 100, locale, places)
    return number + ("\u202f%" if normalise_locale(locale) == "fr" else "%")


def _zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_date(moment: datetime | None, locale: str, timezone: str | None = None) -> str:
    if moment is None:
        return ""
    locale = normalise_locale(locale)
    local = moment.astimezone(_zone(timezone))
    month = catalogue(locale)["months"][local.month - 1]
    return translate(locale, "format.date", day=local.day, month=month, year=local.year)


def format_time(moment: datetime, locale: str, timezone: str | None = None) -> str:
    local = moment.astimezone(_zone(timezone))
    if normalise_locale(locale) == "en":
        return f"{(local.hour % 12) or 12}:{local.minute:02d}\u00a0{'AM' if local.hour < 12 else 'PM'}"
    return f"{local.hour:02d}:{local.minute:02d}"


def format_datetime(moment: datetime | None, locale: str, timezone: str | None = None) -> str:
    if moment is None:
        return ""
    return translate(
        locale,
        "format.datetime",
        date=format_date(moment, locale, timezone),
        time=format_time(moment, locale, timezone),
    )


@lru_cache
def _country_names(locale: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True)


def country_name(code: str | None, locale: str) -> str:
    """The country's name in the customer's language (ISO 3166 names shipped with pycountry)."""
    country = pycountry.countries.get(alpha_2=(code or "").upper()) if code else None
    if country is None:
        return code or ""
    name = getattr(country, "common_name", None) or country.name
    return _country_names(normalise_locale(locale)).gettext(name)


def http_url(url: str | None) -> str:
    """The URL if it is plain http(s), else "": carrier links come from outside and end up in hrefs."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def _build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["money"] = format_money
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    env.filters["country"] = country_name
    return env


@lru_cache
def environment() -> Environment:
    return _build_environment()


@lru_cache
def page_templates() -> Jinja2Templates:
    """Page rendering for FastAPI routes, sharing the email environment and its filters."""
    return Jinja2Templates(env=environment())


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
