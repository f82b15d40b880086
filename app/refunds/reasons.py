"""Why money went back: one normalised list for every refund, whoever issued it.

Refunds made in the store admin carry only the merchant's note; ours carry the claim's or the
dispute's reason. Both are turned into one of REASONS here, so insights, risk and disputes count
the same thing under the same name.
"""

from __future__ import annotations

import re

# What a customer can say went wrong (the complaint classifier's reasons too, app/insights).
CLAIMED = (
    "not_received",
    "late",
    "damaged",
    "not_as_described",
    "wrong_item",
    "size",
    "changed_mind",
    "fraud_claim",
    "other",
)
# A refund's reason: what the customer claimed, or why else the money went back.
REASONS = (*CLAIMED[:-1], "cancelled", "dispute", "other", "unknown")

# A resolution's reason (app.resolutions.policy.REASONS) is already one of ours.
# Shopify's dispute reasons (REST lower case) mapped to what the customer claimed.
_DISPUTE = {
    "product_not_received": "not_received",
    "product_unacceptable": "not_as_described",
    "fraudulent": "fraud_claim",
    "unrecognized": "fraud_claim",
    "subscription_canceled": "cancelled",
    "credit_not_processed": "cancelled",
}

# Words a merchant writes in a refund note, in the languages the shop's customers write in (en, fr,
# es, de), as regular expressions matched at the start of a word ("damage" also finds "damaged").
# Checked in this order: the first reason with a match wins ("late, then arrived broken" is about
# the damage).
_NOTE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fraud_claim", (r"fraud", r"unauthori[sz]", r"stolen card", r"chargeback", r"betrug")),
    ("damaged", (r"damage", r"broke", r"cracked", r"defect", r"faulty", r"endommag", r"cassé", r"abîm",
                 r"dañad", r"roto\b", r"rota\b", r"beschädig", r"kaputt", r"defekt")),
    ("wrong_item", (r"wrong (item|product|colou?r|model|article)", r"mauvais (article|produit|modèle)",
                    r"(artículo|producto) equivocado", r"falsche[rn]? (artikel|ware|produkt)")),
    ("size", (r"size\b", r"too (small|big|large|tight)", r"does(n't| not) fit", r"taille", r"talla",
              r"größe", r"passt nicht")),
    ("not_as_described", (r"not as (described|pictured|advertised)", r"quality", r"non conforme",
                          r"no coincide", r"qualité", r"calidad", r"entspricht nicht", r"qualität")),
    ("not_received", (r"not received", r"never (arrived|received|came)", r"did(n't| not) (arrive|come)",
                      r"lost\b", r"missing (parcel|package)", r"non reçu", r"jamais (reçu|arrivé)", r"perdu",
                      r"no (recibido|llegó)", r"perdido", r"nicht (erhalten|angekommen)", r"verloren")),
    ("late", (r"late\b", r"delay", r"too long", r"retard", r"tarde\b", r"retraso", r"verspät", r"zu spät")),
    ("changed_mind", (r"changed (my |his |her |their )?mind", r"no longer (want|need)", r"do(n't| not) want",
                      r"return", r"changé d'avis", r"cambi(ó|o) de opinión", r"rückgabe", r"widerruf",
                      r"retour", r"devoluci")),
    ("cancelled", (r"cancel", r"annul", r"storn")),
    ("dispute", (r"dispute", r"litige", r"disputa", r"reklamation")),
)
_PATTERNS = tuple((reason, re.compile(r"\b(?:" + "|".join(words) + ")")) for reason, words in _NOTE_WORDS)
_SPACES = re.compile(r"\s+")


def from_note(note: str | None) -> str:
    """The reason a merchant's refund note names, "other" for a note that names none we know, and
    "unknown" when there is no note at all."""
    text = _SPACES.sub(" ", (note or "").casefold()).strip()
    if not text:
        return "unknown"
    for reason, pattern in _PATTERNS:
        if pattern.search(text):
            return reason
    return "other"


def from_dispute(reason: str | None) -> str:
    """What a dispute's reason says the customer claimed; "dispute" when it names nothing more."""
    return _DISPUTE.get((reason or "").strip().lower(), "dispute")


def from_claim(reason: str | None) -> str:
    """A resolution-centre reason (already one of ours), or "other"."""
    return reason if reason in REASONS else "other"
