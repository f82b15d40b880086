"""The store's OAuth endpoints: token exchange, the authorization-code grant and refresh of
expiring offline tokens, answering as Shopify does.

Expiring offline tokens live an hour and come with a refresh token that rotates on every use.
Since the 2026-08 change a refresh token stays valid until its replacement is used (a refresh
whose answer was lost can be repeated); a refresh revokes the access token it replaces at once.
Calls are counted per shop so tests can see how many refreshes really reached the store.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import jwt

from app.config import get_settings
from app.redis import get_redis
from app.sandbox.store import state
from app.shops.oauth import sign_query

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type name
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a token type name
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105 - a token type name
ACCESS_TTL = 3600
REFRESH_TTL = 90 * 24 * 3600
CODE_TTL = 600


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.body = status, {"error": error, "error_description": description}


def _count(domain: str, what: str) -> None:
    get_redis().hincrby(state.k("oauth_calls", domain), what, 1)


def calls(domain: str) -> dict[str, int]:
    raw = get_redis().hgetall(state.k("oauth_calls", domain))
    return {k.decode(): int(v) for k, v in raw.items()}


def granted_scopes(domain: str) -> str | None:
    raw = get_redis().hget(state.k("scopes"), domain)
    return raw.decode() if raw else None


def _check_client(form: dict[str, str]) -> None:
    settings = get_settings()
    if form.get("client_id") != settings.shopify_api_key or not secrets.compare_digest(
        form.get("client_secret", ""), settings.shopify_api_secret
    ):
        raise OAuthError(401, "invalid_client", "Client authentication failed")


def _issue(domain: str, scopes: str, *, expiring: bool, replaces_refresh: str | None = None) -> dict[str, Any]:
    """A new access token (revoking the shop's previous one) and, if expiring, a refresh token."""
    access = "shpat_" + secrets.token_hex(16)
    client = get_redis()
    shop = state.get_shop(domain)
    state.save_shop(domain, access, name=shop["name"] if shop else None,
                    currency=shop["currency"] if shop else "USD", webhook_url=shop.get("webhook_url") if shop else None)
    client.hset(state.k("scopes"), domain, scopes)
    answer: dict[str, Any] = {"access_token": access, "scope": scopes}
    if expiring:
        refresh = "shprt_" + secrets.token_hex(16)
        client.hset(state.k("token_expiry"), access, time.time() + ACCESS_TTL)
        client.set(state.k("refresh", refresh), json.dumps({"domain": domain, "scopes": scopes}), ex=REFRESH_TTL)
        if replaces_refresh:
            # The old refresh token stays valid until its replacement (or the new access token) is used.
            client.set(state.k("supersedes", refresh), replaces_refresh, ex=REFRESH_TTL)
            client.set(state.k("supersedes", access), replaces_refresh, ex=ACCESS_TTL)
        answer.update(expires_in=ACCESS_TTL, refresh_token=refresh, refresh_token_expires_in=REFRESH_TTL)
    return answer


def _retire_superseded(token: str) -> None:
    client = get_redis()
    old = client.getdel(state.k("supersedes", token))
    if old:
        client.delete(state.k("refresh", old.decode()))


def token_used(access_token: str) -> None:
    """Called on every authenticated Admin API call: using a new token retires the old refresh token."""
    _retire_superseded(access_token)


def is_expired(access_token: str) -> bool:
    expiry = get_redis().hget(state.k("token_expiry"), access_token)
    return expiry is not None and float(expiry) < time.time()


def _token_exchange(domain: str, form: dict[str, str]) -> dict[str, Any]:
    settings = get_settings()
    if form.get("subject_token_type") != ID_TOKEN:
        raise OAuthError(400, "invalid_request", "subject_token_type must be an id_token")
    if form.get("requested_token_type", OFFLINE) != OFFLINE:
        raise OAuthError(400, "invalid_request", "only offline access tokens are emulated")
    try:
        claims = jwt.decode(form.get("subject_token", ""), settings.shopify_api_secret, algorithms=["HS256"],
                            audience=settings.shopify_api_key, leeway=10,
                            options={"require": ["exp", "nbf", "aud", "dest"]})
    except jwt.PyJWTError as error:
        raise OAuthError(400, "invalid_subject_token", f"session token rejected: {error}") from None
    if urlsplit(str(claims["dest"])).hostname != domain:
        raise OAuthError(400, "invalid_subject_token", "session token was minted for another shop")
    _count(domain, "token_exchange")
    # Shopify-managed installation: the scopes declared in the app configuration are granted.
    scopes = granted_scopes(domain) or settings.shopify_scopes
    return _issue(domain, scopes, expiring=form.get("expiring") == "1")


def _refresh(domain: str, form: dict[str, str]) -> dict[str, Any]:
    refresh = form.get("refresh_token", "")
    raw = get_redis().get(state.k("refresh", refresh)) if refresh else None
    record = json.loads(raw) if raw else None
    shop = state.get_shop(domain)
    installed = shop is not None and state.shop_for_token(shop["access_token"]) == domain
    if record is None or record["domain"] != domain or not installed:
        _count(domain, "refresh_refused")
        raise OAuthError(400, "invalid_grant", "refresh token is invalid, expired or revoked")
    _count(domain, "refresh")
    _retire_superseded(refresh)
    return _issue(domain, record["scopes"], expiring=True, replaces_refresh=refresh)


def _code(domain: str, form: dict[str, str]) -> dict[str, Any]:
    raw = get_redis().getdel(state.k("code", form.get("code", "")))
    grant = json.loads(raw) if raw else None
    if grant is None or grant["domain"] != domain:
        raise OAuthError(400, "invalid_request", "authorization code was not found or was already used")
    _count(domain, "authorization_code")
    return _issue(domain, grant["scopes"], expiring=form.get("expiring") == "1")


def access_token(domain: str, form: dict[str, str]) -> dict[str, Any]:
    _check_client(form)
    grant = form.get("grant_type") or ("authorization_code" if form.get("code") else "")
    handlers = {TOKEN_EXCHANGE: _token_exchange, "refresh_token": _refresh, "authorization_code": _code}
    if grant not in handlers:
        raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    return handlers[grant](domain, form)


def authorize(domain: str, params: dict[str, str]) -> str:
    """The merchant approves at once: a one-time code, then back to the app with a signed query."""
    settings = get_settings()
    if params.get("client_id") != settings.shopify_api_key:
        raise OAuthError(400, "invalid_request", "unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(settings.public_base + "/"):
        raise OAuthError(400, "invalid_request", "redirect_uri is not whitelisted for this app")
    if not params.get("state"):
        raise OAuthError(400, "invalid_request", "state is required")
    code = secrets.token_hex(16)
    scopes = params.get("scope") or settings.shopify_scopes
    get_redis().set(state.k("code", code), json.dumps({"domain": domain, "scopes": scopes}), ex=CODE_TTL)
    _count(domain, "authorize")
    query = {"code": code, "shop": domain, "state": params["state"], "timestamp": str(int(time.time())),
             "host": _host(domain)}
    return f"{redirect_uri}?{sign_query(query, settings.shopify_api_secret)}"


def _host(domain: str) -> str:
    return base64.urlsafe_b64encode(f"admin.shopify.com/store/{domain.split('.')[0]}".encode()).decode().rstrip("=")
