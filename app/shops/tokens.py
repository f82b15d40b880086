"""Offline access tokens: asking the store's token endpoint, storing grants encrypted, and
refreshing expiring tokens under a per-shop lock.

Refresh tokens rotate: a refresh returns a new access token AND a new refresh token, and revokes
the access token it replaces. Two workers refreshing at once would each revoke the other's token,
so refreshes of one shop are serialised with a PostgreSQL advisory lock; a worker that waited
re-reads the shop and uses the token the winner stored. A refresh whose answer is lost can be
repeated with the same refresh token (valid until its replacement is first used, since 2026-08).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from app import exactly_once, http_clients
from app.config import get_settings
from app.db import get_engine, get_sessionmaker, utcnow
from app.evidence import service as evidence
from app.metrics import EXTERNAL_CALLS
from app.shops import secrets
from app.shops.models import Shop

log = logging.getLogger(__name__)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type name
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a token type name, not a secret
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105 - a token type name
LOCK_WAIT_MS = 30_000


class TokenError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TokenRefused(TokenError):
    """The store refused the grant (bad session token, used code, revoked refresh token)."""


class TokenTemporaryError(TokenError):
    """Network error or 5xx at the token endpoint: the same request may work later."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    scope: str
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None

    def facts(self) -> dict[str, Any]:
        """What the ledger may say about a grant: never the tokens themselves."""
        return {"scopes": self.scope, "expiring": self.expires_in is not None,
                "expires_in": self.expires_in, "refresh_token_expires_in": self.refresh_token_expires_in}


def request_token(shop_domain: str, form: dict[str, str], *, transport: httpx.BaseTransport | None = None) -> TokenGrant:
    settings = get_settings()
    body = {"client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secret, **form}
    url = f"{settings.admin_base(shop_domain)}/admin/oauth/access_token"
    try:
        with http_clients.client(timeout=httpx.Timeout(10.0, connect=5.0), transport=transport) as client:
            response = client.post(url, json=body, headers={"Accept": "application/json"})
    except httpx.TransportError as error:
        EXTERNAL_CALLS.labels("store", "error").inc()
        raise TokenTemporaryError(f"token endpoint unreachable: {type(error).__name__}") from None
    EXTERNAL_CALLS.labels("store", f"{response.status_code // 100}xx").inc()
    if response.status_code >= 500 or response.status_code == 429:
        raise TokenTemporaryError(f"token endpoint answered HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise TokenTemporaryError("token endpoint answered with an unreadable body") from None
    if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        reason = answer.get("error_description") or answer.get("error") if isinstance(answer, dict) else None
        raise TokenRefused(f"token endpoint refused the grant (HTTP {response.status_code}): {reason or 'no reason'}")
    return TokenGrant(
        access_token=str(answer["access_token"]), scope=str(answer.get("scope") or ""),
        expires_in=int(answer["expires_in"]) if answer.get("expires_in") else None,
        refresh_token=str(answer["refresh_token"]) if answer.get("refresh_token") else None,
        refresh_token_expires_in=int(answer["refresh_token_expires_in"]) if answer.get("refresh_token_expires_in") else None,
    )


def _expiring() -> dict[str, str]:
    return {"expiring": "1"} if get_settings().shopify_expiring_tokens else {}


def exchange_session_token(shop_domain: str, session_token: str, **kwargs: Any) -> TokenGrant:
    return request_token(shop_domain, {
        "grant_type": TOKEN_EXCHANGE, "subject_token": session_token, "subject_token_type": ID_TOKEN,
        "requested_token_type": OFFLINE, **_expiring(),
    }, **kwargs)


def exchange_code(shop_domain: str, code: str, **kwargs: Any) -> TokenGrant:
    return request_token(shop_domain, {"code": code, **_expiring()}, **kwargs)


def store_grant(shop: Shop, grant: TokenGrant) -> None:
    """Encrypt and keep the grant on the shop (the caller's transaction commits)."""
    now = utcnow()
    shop.access_token_encrypted = secrets.encrypt(grant.access_token)
    shop.access_token_expires_at = now + timedelta(seconds=grant.expires_in) if grant.expires_in else None
    shop.refresh_token_encrypted = secrets.encrypt(grant.refresh_token) if grant.refresh_token else None
    shop.refresh_token_expires_at = (
        now + timedelta(seconds=grant.refresh_token_expires_in) if grant.refresh_token_expires_in else None
    )
    if grant.scope:
        shop.scopes = grant.scope


def _due(shop: Shop, failed_token: str | None) -> bool:
    if shop.access_token_encrypted is None:
        return False
    if failed_token is not None and secrets.decrypt(shop.access_token_encrypted) == failed_token:
        return shop.refresh_token_encrypted is not None
    expires_at: datetime | None = shop.access_token_expires_at
    margin = timedelta(seconds=get_settings().token_refresh_margin_seconds)
    return expires_at is not None and expires_at - margin <= utcnow()


@contextmanager
def _shop_lock(shop_id: int) -> Iterator[None]:
    """Wait for the shop's token lock (blocking, bounded) on a dedicated autocommit connection;
    a killed worker's connection closes and releases it."""
    connection = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    params = {"ns": exactly_once.SHOP_TOKEN, "id": shop_id % 2147483648}
    try:
        connection.execute(text(f"SET lock_timeout = {LOCK_WAIT_MS}"))
        connection.execute(text("SELECT pg_advisory_lock(:ns, CAST(:id AS integer))"), params)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:ns, CAST(:id AS integer))"), params)
            connection.execute(text("RESET lock_timeout"))
    except Exception:
        connection.invalidate()  # never return a connection that may still hold the lock
        raise
    finally:
        connection.close()


def access_token_for(shop_id: int, *, failed_token: str | None = None,
                     transport: httpx.BaseTransport | None = None) -> str:
    """A usable access token for the shop, refreshed first when it is about to expire (or when
    the store just refused `failed_token`). Owns its transactions."""
    maker = get_sessionmaker()
    with maker() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.access_token_encrypted is None:
            raise TokenRefused(f"shop {shop_id} has no access token (not installed)")
        if not _due(shop, failed_token):
            return secrets.decrypt(shop.access_token_encrypted)
    with _shop_lock(shop_id), maker() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.access_token_encrypted is None:
            raise TokenRefused(f"shop {shop_id} has no access token (not installed)")
        # Another worker may have refreshed while we waited: then its token is the one to use.
        if not _due(shop, failed_token):
            return secrets.decrypt(shop.access_token_encrypted)
        if shop.refresh_token_encrypted is None:
            raise TokenRefused(f"{shop.domain}: the access token expired and there is no refresh token")
        try:
            grant = request_token(shop.domain, {
                "grant_type": "refresh_token", "refresh_token": secrets.decrypt(shop.refresh_token_encrypted),
            }, transport=transport)
        except TokenRefused as error:
            evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="shop.token_refresh_refused",
                            source="dropguard", data={"reason": error.message[:300]})
            session.commit()
            raise
        store_grant(shop, grant)
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="shop.token_refreshed",
                        source="dropguard", data={**grant.facts(), "expires_at": shop.access_token_expires_at})
        session.commit()
        log.info("shop.token_refreshed", extra={"shop": shop.domain})
        return grant.access_token
