"""Carrier tracking pages in the customer's language: the one table of carriers that have them.

A shipment keeps the link its supplier (or our format table) gave, usually the carrier's English
page. Where the carrier has a page per language we build that one instead; a carrier without one
keeps the stored link. A carrier we do not know by name but whose stored link is 17TRACK's gets
17TRACK's page in the customer's language (17TRACK follows every postal carrier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from app.templating import http_url


@dataclass(frozen=True)
class CarrierPage:
    # "{number}" and "{lang}" are replaced; lang is the carrier's own code for the language.
    template: str
    languages: dict[str, str]  # our locale -> the carrier's language code
    fallback: str = "en"  # our locale whose page to use for a language the carrier lacks


_ENGLISH_FRENCH_SPANISH_GERMAN = {"en": "en", "fr": "fr", "es": "es", "de": "de"}
_SEVENTEENTRACK = CarrierPage("https://t.17track.net/{lang}#nums={number}", _ENGLISH_FRENCH_SPANISH_GERMAN)

# Keys: the carrier's name folded (lower case, letters and digits only), as suppliers spell it.
CARRIER_PAGES: dict[str, CarrierPage] = {
    "ups": CarrierPage("https://www.ups.com/track?loc={lang}&tracknum={number}",
                       {"en": "en_US", "fr": "fr_FR", "es": "es_ES", "de": "de_DE"}),
    "fedex": CarrierPage("https://www.fedex.com/fedextrack/?trknbr={number}&locale={lang}",
                         {"en": "en_US", "fr": "fr_FR", "es": "es_ES", "de": "de_DE"}),
    "dhl": CarrierPage("https://www.dhl.com/{lang}/home/tracking.html?tracking-id={number}",
                       {"en": "global-en", "fr": "fr-fr", "es": "es-es", "de": "de-de"}),
    "dhlexpress": CarrierPage("https://www.dhl.com/{lang}/home/tracking.html?tracking-id={number}",
                              {"en": "global-en", "fr": "fr-fr", "es": "es-es", "de": "de-de"}),
    "deutschepost": CarrierPage("https://www.dhl.de/{lang}/privatkunden/pakete-empfangen/verfolgen.html?piececode={number}",
                                {"en": "en", "de": "de"}),
    "dhlparcelde": CarrierPage("https://www.dhl.de/{lang}/privatkunden/pakete-empfangen/verfolgen.html?piececode={number}",
                               {"en": "en", "de": "de"}),
    "dpd": CarrierPage("https://www.dpdgroup.com/nl/mydpd/my-parcels/track?lang={lang}&parcelNumber={number}",
                       _ENGLISH_FRENCH_SPANISH_GERMAN),
    "laposte": CarrierPage("https://www.laposte.fr/outils/{lang}?code={number}",
                           {"fr": "suivre-vos-envois", "en": "track-a-parcel"}),
    "colissimo": CarrierPage("https://www.laposte.fr/outils/{lang}?code={number}",
                             {"fr": "suivre-vos-envois", "en": "track-a-parcel"}),
    "correos": CarrierPage("https://www.correos.es/{lang}/herramientas/localizador/envios/detalle?tracking-number={number}",
                           {"es": "es/es", "en": "es/en"}),
    "canadapost": CarrierPage("https://www.canadapost-postescanada.ca/track-reperage/{lang}#/search?searchFor={number}",
                              {"en": "en", "fr": "fr"}),
    "chinapost": _SEVENTEENTRACK,
    "chinaems": _SEVENTEENTRACK,
    "yunexpress": _SEVENTEENTRACK,
    "4px": _SEVENTEENTRACK,
    "yanwen": _SEVENTEENTRACK,
    "cainiao": _SEVENTEENTRACK,
    "cjpacket": _SEVENTEENTRACK,
    "17track": _SEVENTEENTRACK,
}
_FOLD = re.compile(r"[^a-z0-9]")


def _fold(carrier: str | None) -> str:
    return _FOLD.sub("", (carrier or "").lower())


def page_for(carrier: str | None, stored_url: str | None) -> CarrierPage | None:
    page = CARRIER_PAGES.get(_fold(carrier))
    if page is None and http_url(stored_url).startswith("https://t.17track.net/"):
        return _SEVENTEENTRACK
    return page


def link(carrier: str | None, number: str, stored_url: str | None, locale: str) -> str:
    """The tracking page to open for this parcel in this language ("" when there is none)."""
    page = page_for(carrier, stored_url)
    if page is None or not number:
        return http_url(stored_url)
    lang = page.languages.get(locale) or page.languages.get(page.fallback) or next(iter(page.languages.values()))
    return page.template.format(lang=lang, number=quote(number, safe=""))
