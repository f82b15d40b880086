"""Installing a shop from a token grant (token exchange or authorization code), and the
embedded app's entry: a session token in, an installed shop with the scopes it needs out."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.outbox import service as outbox
from app.shops import oauth, tokens
from app.shops.auth import shop_domain_from_token
from app.shops.models import Shop
from app.shops.service import get_by_domain
from app.suppliers.models import Supplier

AFTER_INSTALL_TASKS = ("shops.sync_subscriptions", "shops.import_history")


def record_install(
    session: Session, *, domain: str, grant: tokens.TokenGrant, via: str, follow_up: bool = True
) -> Shop:
    """Store the grant (encrypted) and mark the shop installed; subscriptions and the history
    import follow from the outbox once the caller commits (unless follow_up is off: tests that
    drive those steps themselves). Flushes, never commits."""
    shop = get_by_domain(session, domain)
    reinstall = shop is not None
    if shop is None:
        shop = Shop(domain=domain, name=domain.split(".")[0], settings={})
        session.add(shop)
    was_installed = shop.is_installed and shop.access_token_encrypted is not None
    tokens.store_grant(shop, grant)
    shop.status, shop.installed_via, shop.uninstalled_at = "installed", via, None
    if not was_installed:
        shop.installed_at = utcnow()
    session.flush()
    if session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default)) is None:
        session.add(Supplier(shop_id=shop.id, name="Sandbox supplier", protocol="generic", is_default=True))
    evidence.record(
        session, chain=domain, shop_id=shop.id, kind="shop.installed" if not was_installed else "shop.token_granted",
        source="shopify",
        data={"via": via, "reinstall": reinstall and not was_installed, **grant.facts(),
              "missing_scopes": sorted(oauth.missing_scopes(grant.scope))},
    )
    for task in AFTER_INSTALL_TASKS if follow_up else ():
        outbox.enqueue(session, task, shop.id)
    session.flush()
    return shop


def needs_install(shop: Shop | None) -> bool:
    return shop is None or not shop.is_installed or shop.access_token_encrypted is None


def install_from_session_token(session: Session, session_token: str) -> tuple[Shop, bool]:
    """For the embedded app: the verified session token's shop, installed by token exchange if it
    is not yet (or lost its token). Returns the shop and whether the merchant must consent again
    (configured scopes not all granted: send them to /auth/install?shop=...).

    Raises app.errors.Unauthorized for a bad session token, tokens.TokenError if the store refuses.
    """
    domain = shop_domain_from_token(session_token)
    shop = get_by_domain(session, domain)
    if needs_install(shop):
        grant = tokens.exchange_session_token(domain, session_token)
        shop = record_install(session, domain=domain, grant=grant, via="token_exchange")
    return shop, bool(oauth.missing_scopes(shop.scopes))
