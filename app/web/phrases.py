"""Phrases of a domain's merchant pages in the dashboard's languages (en, fr), kept in one place per
domain (app/<domain>/page_text.py) so they move into the admin catalogue as they are.

    TEXT = Phrasebook({"en": {"risk.page.title": "Risk"}, "fr": {"risk.page.title": "Risque"}})
    render(request, "risk/model.html", shop, {**localised(request, shop, TEXT), ...})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fastapi import Request

from app.shops.models import Shop
from app.templating import format_date, format_datetime, format_money, format_number, format_percent

LOCALES = ("en", "fr")
DEFAULT = "en"


def locale_of(request: Request) -> str:
    """The merchant's language: the admin opens embedded apps with ?locale= (e.g. fr-FR), and the
    dashboard's links carry it on."""
    value = (request.query_params.get("locale") or "").strip().lower().replace("_", "-").split("-")[0]
    return value if value in LOCALES else DEFAULT


class Phrasebook:
    def __init__(self, phrases: Mapping[str, Mapping[str, str]]) -> None:
        english = set(phrases[DEFAULT])
        for locale in LOCALES:
            missing = english - set(phrases.get(locale, {}))
            if missing:
                raise RuntimeError(f"phrases missing in {locale}: {sorted(missing)}")
        self._phrases = phrases

    def has(self, key: str) -> bool:
        return key in self._phrases[DEFAULT]

    def text(self, locale: str, key: str, **params: Any) -> str:
        phrase = self._phrases.get(locale, {}).get(key) or self._phrases[DEFAULT][key]
        return phrase.format(**params) if params else phrase

    def translator(self, locale: str) -> Callable[..., str]:
        def t(key: str, **params: Any) -> str:
            return self.text(locale, key, **params)

        return t


def localised(request: Request, shop: Shop, book: Phrasebook) -> dict[str, Any]:
    """What a page's template needs to speak the merchant's language: `locale`, `t`, and the
    formatters (`money`, `when`, `day`, `number`, `percent`) in that language and the shop's time zone."""
    locale = locale_of(request)
    return {
        "locale": locale, "t": book.translator(locale),
        "money": lambda amount, currency: format_money(amount, currency, locale),
        "when": lambda moment: format_datetime(moment, locale, shop.timezone),
        # A day, from a datetime or its ISO text (evaluations store their periods as text).
        "day": lambda moment: format_date(datetime.fromisoformat(moment) if isinstance(moment, str) else moment,
                                          locale, shop.timezone),
        "number": lambda value, places=0: format_number(value, locale, places),
        "percent": lambda share, places=1: format_percent(share, locale, places),
    }
