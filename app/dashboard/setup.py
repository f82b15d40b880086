"""Home's setup guide for a new shop: five steps, each ticked from the shop's real state (never
from the merchant clicking "done"), so the guide cannot say a shop is ready when it is not.

  supplier    a supplier is connected: one the merchant added or configured (the placeholder
              "Sandbox supplier" every install creates, with no settings, does not count)
  mapping     products are mapped (a variant mapping exists and no order waits as unmapped)
  policy      the resolution policy was saved (shops.settings["resolutions"])
  messages    the customer messages were previewed (the templates page opened, or a template saved)
  automation  paid orders go to the supplier on their own (ordering policy not manual, a supplier)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from app.evidence.models import EvidenceEvent
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.suppliers.models import Supplier
from app.suppliers.tables import OrderFlag, VariantMapping

SETUP_KEY = "setup"
# What app/shops/install.py and app/shops/service.py name the supplier every install starts with.
PLACEHOLDER_SUPPLIER = "Sandbox supplier"


@dataclass(frozen=True)
class Step:
    key: str
    done: bool
    # Where the merchant does it (the step's action).
    path: str


def mark_seen(session: Session, shop: Shop, what: str) -> None:
    """Remember that the merchant has seen a page a step asks for (once; flushes)."""
    stored = shop.settings if isinstance(shop.settings, dict) else {}
    setup = stored.get(SETUP_KEY) if isinstance(stored.get(SETUP_KEY), dict) else {}
    if setup.get(what):
        return
    shop.settings = {**stored, SETUP_KEY: {**setup, what: True}}  # a new dict: the JSONB is seen as changed
    session.flush()


def _seen(shop: Shop, what: str) -> bool:
    setup = (shop.settings or {}).get(SETUP_KEY) if isinstance(shop.settings, dict) else None
    return bool(isinstance(setup, dict) and setup.get(what))


def steps(session: Session, shop: Shop) -> list[Step]:
    has_supplier = session.scalar(select(exists().where(
        Supplier.shop_id == shop.id,
        or_(Supplier.name != PLACEHOLDER_SUPPLIER, Supplier.protocol != "generic",
            Supplier.settings != text("'{}'::jsonb"))))) or False
    has_mapping = session.scalar(select(exists().where(VariantMapping.shop_id == shop.id))) or False
    unmapped = session.scalar(select(exists().where(
        OrderFlag.shop_id == shop.id, OrderFlag.kind == "unmapped", OrderFlag.resolved_at.is_(None)))) or False
    policy_saved = isinstance((shop.settings or {}).get("resolutions"), dict)
    template_saved = session.scalar(select(exists().where(
        EvidenceEvent.chain == shop.domain, EvidenceEvent.kind == "notification_template.saved"))) or False
    automatic = shop_settings.load(shop).ordering.policy != "manual"
    return [
        Step("supplier", has_supplier, "/admin/suppliers"),
        Step("mapping", has_mapping and not unmapped, "/admin/mapping"),
        Step("policy", policy_saved, "/admin/resolutions#policy"),
        Step("messages", _seen(shop, "messages") or template_saved, "/admin/notifications"),
        Step("automation", automatic and has_supplier, "/admin/settings#auto_order"),
    ]
