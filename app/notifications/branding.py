"""How the shop appears to its customers, in e-mails and on the status page (shops.settings["branding"]).

The merchant sets it on /admin/notifications/branding; every field has a default, so a shop that
never opened the page still writes as itself (its name, its e-mail as reply-to), never as Dropguard.

- display_name: the From name and the heading of every message and page (default: the shop's name)
- reply_to: where customers' replies go (default: the shop's e-mail)
- logo_url: an https image shown at the top (none by default)
- colour: the brand colour of buttons and the progress bar (#rrggbb)
- warehouse: per language, how the place that prepares orders is named to customers
  (default "our warehouse" in each language; never the word "supplier")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from app.config import get_settings
from app.evidence import service as evidence
from app.shops.models import Shop
from app.templating import LOCALES, http_url, translator

KEY = "branding"
DEFAULT_COLOUR = "#2c6ecb"
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EMAIL = re.compile(r"^[^\s@<>\"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
# A word the customer must not read: the merchant's own wording may not bring it back.
_FORBIDDEN_WORDS = re.compile(r"\b(supplier|fournisseur|proveedor|lieferant)", re.IGNORECASE)


class Branding(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    display_name: str = Field(default="", max_length=80)
    reply_to: str = Field(default="", max_length=254)
    logo_url: str = Field(default="", max_length=1024)
    colour: str = DEFAULT_COLOUR
    warehouse: dict[str, str] = Field(default_factory=dict)

    @field_validator("display_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n<>\""):
            raise ValueError("the name may not contain line breaks, quotes or angle brackets")
        return value

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str) -> str:
        if value and not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value.lower()

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str) -> str:
        if value and not (value.startswith("https://") and http_url(value) == value):
            raise ValueError("the logo must be an https:// address")
        return value

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _COLOUR.match(value or ""):
            raise ValueError("a colour like #2c6ecb")
        return value.lower()

    @field_validator("warehouse")
    @classmethod
    def _warehouse(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = {}
        for locale, words in value.items():
            words = (words or "").strip()
            if locale not in LOCALES or not words:
                continue
            if len(words) > 60 or any(ch in words for ch in "\r\n<>"):
                raise ValueError("at most 60 characters on one line")
            if _FORBIDDEN_WORDS.search(words):
                raise ValueError("customers should not read the word “supplier”; name the place, e.g. our warehouse")
            cleaned[locale] = words
        return cleaned


def load(shop: Shop) -> Branding:
    stored = (shop.settings or {}).get(KEY) if isinstance(shop.settings, dict) else None
    try:
        return Branding.model_validate(stored if isinstance(stored, dict) else {})
    except ValidationError:
        return Branding()


@dataclass(frozen=True)
class Look:
    """The branding as messages and pages use it, defaults filled in."""

    name: str
    reply_to: str
    logo_url: str
    colour: str
    warehouse: dict[str, str]

    def warehouse_for(self, locale: str) -> str:
        return self.warehouse.get(locale) or translator(locale)("wording.warehouse")


def look(shop: Shop) -> Look:
    saved = load(shop)
    return Look(
        name=saved.display_name or shop.name or shop.domain,
        reply_to=saved.reply_to or (shop.email or ""),
        logo_url=saved.logo_url,
        colour=saved.colour,
        warehouse=saved.warehouse,
    )


_LOCAL_PART = re.compile(r"[^a-z0-9]+")


def sender(shop: Shop) -> str:
    """The From header: the shop's name on the operator's sending domain.

    DROPGUARD_MAIL_SENDER_DOMAIN set: "<Shop name> <<shop-handle>@<domain>>" (the domain the operator
    signs with SPF/DKIM, so the shop's own domain is never forged). Unset: the operator's mail_from
    address with the shop's name in front of it.
    """
    settings = get_settings()
    name = look(shop).name
    domain = (settings.mail_sender_domain or "").strip().lower()
    if domain:
        handle = _LOCAL_PART.sub("-", shop.domain.split(".")[0].lower()).strip("-") or "shop"
        address = f"{handle[:64]}@{domain}"
    else:
        address = parseaddr(settings.mail_from)[1]
    return formataddr((name, address))


def save(session: Session, shop: Shop, new: Branding) -> dict[str, Any]:
    """Store the branding (other settings kept) and record what changed; returns the changes."""
    before = load(shop).model_dump()
    after = new.model_dump()
    changes = {k: {"from": before.get(k), "to": after[k]} for k in after if before.get(k) != after[k]}
    if not changes:
        return changes
    stored = dict(shop.settings) if isinstance(shop.settings, dict) else {}
    shop.settings = {**stored, KEY: after}
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="shop.settings_changed", source="merchant",
                    data={"changes": {f"{KEY}.{k}": v for k, v in changes.items()}})
    session.flush()
    return changes
