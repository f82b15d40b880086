"""Shops: registering, finding and uninstalling tenants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.outbox import service as outbox
from app.shops import secrets
from app.shops.domains import is_shop_domain
from app.shops.models import Shop
from app.suppliers.models import Supplier
from app.webhooks.models import WebhookDelivery


def get_by_domain(session: Session, domain: str) -> Shop | None:
    return session.scalar(select(Shop).where(Shop.domain == domain))


def get_installed(session: Session, shop_id: int) -> Shop | None:
    shop = session.get(Shop, shop_id)
    return shop if shop and shop.is_installed else None


def add_shop(
    session: Session,
    *,
    domain: str,
    access_token: str,
    name: str | None = None,
    currency: str = "USD",
    timezone: str = "UTC",
    locale: str = "en",
) -> Shop:
    """Register (or re-register) a shop with an offline access token; development and tests."""
    domain = domain.strip().lower()
    if not is_shop_domain(domain):
        raise AppError(f"{domain!r} is not a *.myshopify.com domain")
    if not access_token:
        raise AppError("an access token is required")
    shop = get_by_domain(session, domain)
    now = utcnow()
    if shop is None:
        shop = Shop(domain=domain, settings={})
        session.add(shop)
    shop.name = name or shop.name or domain.split(".")[0]
    shop.currency, shop.timezone, shop.locale = currency, timezone, locale
    shop.status, shop.installed_at, shop.uninstalled_at = "installed", now, None
    shop.access_token_encrypted = secrets.encrypt(access_token)
    session.flush()
    if session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default)) is None:
        session.add(Supplier(shop_id=shop.id, name="Sandbox supplier", protocol="generic", is_default=True))
    evidence.record(
        session,
        chain=domain,
        shop_id=shop.id,
        kind="shop.installed",
        source="dropguard",
        data={"domain": domain, "via": "cli"},
    )
    session.flush()
    return shop


def uninstall(session: Session, shop: Shop, *, source: str = "shopify") -> None:
    """Tokens deleted, processing stopped; data kept until shop/redact."""
    if not shop.is_installed:
        return
    shop.status, shop.uninstalled_at, shop.access_token_encrypted = "uninstalled", utcnow(), None
    shop.refresh_token_encrypted = shop.access_token_expires_at = shop.refresh_token_expires_at = None
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, kind="shop.uninstalled", source=source, data={}
    )
    session.flush()


def on_scopes_update(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    """app/scopes_update: keep the granted scopes and re-check the subscriptions (a topic needs
    its scope). Missing scopes are asked for again when the merchant next opens the app."""
    current = (delivery.payload or {}).get("current")
    if isinstance(current, list):
        current = ",".join(str(scope) for scope in current)
    if isinstance(current, str):
        shop.scopes = current[:1024]
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="shop.scopes_updated", source="shopify",
                    data={"scopes": shop.scopes, "previous": (delivery.payload or {}).get("previous")},
                    webhook_delivery_id=delivery.id)
    outbox.enqueue(session, "shops.sync_subscriptions", shop.id)
    session.flush()


def rotate_keys(session: Session) -> int:
    """Re-encrypt every stored token with the newest DROPGUARD_ENCRYPTION_KEYS key, so an old key
    can then be removed. Returns how many shops were rewritten; the caller commits."""
    count = 0
    for shop in session.scalars(select(Shop).where(Shop.access_token_encrypted.is_not(None)).with_for_update()):
        shop.access_token_encrypted = secrets.rotate(shop.access_token_encrypted)
        if shop.refresh_token_encrypted is not None:
            shop.refresh_token_encrypted = secrets.rotate(shop.refresh_token_encrypted)
        count += 1
    session.flush()
    return count


def access_token(shop: Shop) -> str:
    if shop.access_token_encrypted is None:
        raise AppError(f"{shop.domain} has no access token (uninstalled?)", status_code=409)
    return secrets.decrypt(shop.access_token_encrypted)
