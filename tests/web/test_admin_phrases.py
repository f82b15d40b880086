"""The dashboard's words are complete in every language (the admin side of the customer pages'
i18n completeness test): one catalogue of phrasebooks (app/web/phrases.py), walked here."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from app.web import attention, nav, order_filters
from app.web.page_text import TEXT as SHARED
from app.web.phrases import LOCALES, books, phrase
from app.web.routers import routers

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Customer-facing templates speak templates/i18n/{en,fr,es,de}.json, not the dashboard's books.
CUSTOMER_DIRS = ("emails", "status")
# Customer pages kept beside their domain's admin card (they use the customer catalogue's t).
CUSTOMER_TEMPLATES = ("stockout/_status_card.html", "stockout/choice.html")
# The same word in both languages (a name, or French uses the English word too).
SAME_IN_FRENCH = {"layout.nav", "layout.menu", "layout.pagination", "nav.notifications", "notfound.title"}


@pytest.fixture(scope="module", autouse=True)
def every_page_registered():
    routers()  # importing the page modules registers their books, nav items and attention items


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_book_has_every_phrase_in_every_language_with_the_same_placeholders():
    assert {"web"} <= set(books()), "the shared book is registered"
    for name, book in books().items():
        english = book.raw("en")
        for locale in LOCALES:
            phrases = book.raw(locale)
            assert set(phrases) == set(english), (name, locale, set(english) ^ set(phrases))
            for key, text in phrases.items():
                assert text.strip(), (name, locale, key, "empty")
                assert _placeholders(text) == _placeholders(english[key]), (name, locale, key)


def test_the_shared_book_is_translated_not_copied():
    english, french = SHARED.raw("en"), SHARED.raw("fr")
    copied = {key for key in english if english[key] == french[key] and key not in SAME_IN_FRENCH}
    assert not copied, f"French phrases still in English: {sorted(copied)}"


def _template_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in TEMPLATES.rglob("*.html"):
        if path.relative_to(TEMPLATES).parts[0] in CUSTOMER_DIRS or path.relative_to(TEMPLATES).as_posix() in CUSTOMER_TEMPLATES:
            continue
        # Whole literal keys only: t("home.setup." ~ key ~ ".title") is checked by the test below.
        keys = set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", path.read_text(encoding="utf-8")))
        if keys:
            found[str(path.relative_to(TEMPLATES))] = keys
    return found


def test_every_phrase_a_template_asks_for_exists():
    every = set().union(*(book.keys() for book in books().values()))
    keys = _template_keys()
    assert "web/layout.html" in keys and "dashboard/home.html" in keys and "shops/settings.html" in keys
    missing = {template: sorted(k for k in wanted if k not in every) for template, wanted in keys.items()}
    assert not any(missing.values()), {t: m for t, m in missing.items() if m}


def test_the_built_keys_of_home_settings_and_errors_exist():
    from app.resolutions.policy import REASONS

    step_keys = {f"home.setup.{key}.{part}" for key in ("supplier", "mapping", "policy", "messages", "automation")
                 for part in ("title", "text", "action")}
    reason_keys = {f"settings.reason.{reason}" for reason in REASONS}
    error_keys = {f"error.{part}.{code}" for part in ("title", "heading", "text") for code in ("422", "500")}
    assert not (step_keys | reason_keys | error_keys) - SHARED.keys()


def test_every_label_other_pages_show_is_a_phrase_in_every_language():
    labels = {item.label for item in nav.items()} | {label for _, label in nav.GROUPS}
    labels |= {item.label_key for item in attention._ITEMS.values()}
    labels |= {f.label_key for f in order_filters.order_filters()}
    labels |= {v for f in order_filters.order_filters() for v in f.choices.values()}
    for key in labels:
        for locale in LOCALES:
            assert phrase(locale, key, count=2) != key, (key, locale, "not a phrase in any book")
    # Every nav item of every page module is in one of the groups (nothing falls out of the bar).
    assert {item.group for item in nav.items()} <= {g for g, _ in nav.GROUPS}
    assert sum(len(g.items) for g in nav.groups()) == len(nav.items())
