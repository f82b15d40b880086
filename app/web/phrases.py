"""The dashboard's words in its languages (en, fr): ONE mechanism for every merchant page.

Every merchant phrase lives in a `Phrasebook` — the shared one of the layout, navigation, error
pages, home and settings in app/web/page_text.py, and one per domain in app/<domain>/page_text.py.
Each book registers itself in one catalogue (`books()`), which the completeness test walks
(tests/web/test_admin_phrases.py: every key in every language, same {placeholders}, every
`t("…")` in a template found).

    TEXT = Phrasebook("risk", {"en": {"title": "Risk"}, "fr": {"title": "Risque"}})
    render(request, "risk/model.html", shop, {**localised(request, shop, TEXT), ...})

In a template `t(key)` looks in the page's book first, then in the shared one. Labels that other
pages show (nav items, Home's attention items, orders-list filters) are looked up by `phrase()`
across the catalogue, so name them after the domain ("disputes.nav", "disputes.attention.due").
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
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}

_BOOKS: dict[str, Phrasebook] = {}


def _supported(value: str | None) -> str | None:
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LOCALES else None


def locale_of(request: Request, shop: Shop | None = None) -> str:
    """The merchant's language: ?locale= first (the admin opens embedded apps with it, e.g. fr-FR,
    and the dashboard's links carry it on), then the language chosen in Settings, then the store's
    own language, then English."""
    asked = _supported(request.query_params.get("locale"))
    if asked:
        return asked
    shop = shop if shop is not None else getattr(request.state, "shop", None)
    if shop is not None:
        chosen = (shop.settings or {}).get("dashboard") if isinstance(shop.settings, dict) else None
        chosen = chosen.get("language") if isinstance(chosen, dict) else None
        return _supported(chosen) or _supported(shop.locale) or DEFAULT
    return DEFAULT


class Phrasebook:
    def __init__(self, name: str | Mapping[str, Mapping[str, str]],
                 phrases: Mapping[str, Mapping[str, str]] | None = None) -> None:
        if phrases is None:  # Phrasebook({...}): a book named after nothing (kept for older callers)
            name, phrases = f"book{len(_BOOKS)}", name  # type: ignore[assignment]
        assert isinstance(name, str) and phrases is not None
        english = set(phrases[DEFAULT])
        for locale in LOCALES:
            missing = english - set(phrases.get(locale, {}))
            if missing:
                raise RuntimeError(f"phrases missing in {locale}: {sorted(missing)}")
        self.name = name
        self._phrases = phrases
        _BOOKS[name] = self

    def has(self, key: str) -> bool:
        return key in self._phrases[DEFAULT]

    def keys(self) -> set[str]:
        return set(self._phrases[DEFAULT])

    def raw(self, locale: str) -> Mapping[str, str]:
        return self._phrases.get(locale, {})

    def text(self, locale: str, key: str, **params: Any) -> str:
        phrase = self._phrases.get(locale, {}).get(key) or self._phrases[DEFAULT][key]
        return phrase.format(**params) if params else phrase

    def translator(self, locale: str, fallback: Phrasebook | None = None) -> Callable[..., str]:
        def t(key: str, **params: Any) -> str:
            if fallback is not None and not self.has(key) and fallback.has(key):
                return fallback.text(locale, key, **params)
            return self.text(locale, key, **params)

        return t


def books() -> dict[str, Phrasebook]:
    """Every registered book (importing the page modules registers theirs)."""
    return dict(_BOOKS)


def phrase(locale: str, key: str, **params: Any) -> str:
    """A label another page shows (a nav item, an attention item): the shared book first, then any
    book with that key; a label that is no key at all is shown as written."""
    from app.web.page_text import TEXT as shared

    for book in (shared, *(b for b in _BOOKS.values() if b is not shared)):
        if book.has(key):
            return book.text(locale, key, **params)
    return key.format(**params) if params else key


def counted(locale: str, key: str, count: int) -> str:
    """A label with a count: `<key>_one` for exactly one when a book has it, else `<key>`."""
    from app.web.page_text import TEXT as shared

    singular = f"{key}_one"
    if count == 1 and (shared.has(singular) or any(book.has(singular) for book in _BOOKS.values())):
        return phrase(locale, singular, count=count)
    return phrase(locale, key, count=count)


def formatters(locale: str, shop: Shop | None) -> dict[str, Any]:
    zone = shop.timezone if shop else None
    return {
        "money": lambda amount, currency: format_money(amount, currency, locale),
        "when": lambda moment: format_datetime(moment, locale, zone),
        # A day, from a datetime or its ISO text (evaluations store their periods as text).
        "day": lambda moment: format_date(datetime.fromisoformat(moment) if isinstance(moment, str) else moment,
                                          locale, zone),
        "number": lambda value, places=0: format_number(value, locale, places),
        "percent": lambda share, places=1: format_percent(share, locale, places),
    }


def localised(request: Request, shop: Shop, book: Phrasebook) -> dict[str, Any]:
    """What a page's template needs to speak the merchant's language: `locale`, `t` (the page's
    book, then the shared one), and the formatters in that language and the shop's time zone."""
    from app.web.page_text import TEXT as shared

    locale = locale_of(request, shop)
    return {"locale": locale, "t": book.translator(locale, shared), **formatters(locale, shop)}
