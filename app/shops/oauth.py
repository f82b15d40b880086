"""The authorization-code grant's checks: hex HMAC over the query, the state nonce bound to a
signed cookie and used once, the shop domain, the timestamp window. Pure functions plus Redis
for the used-nonce set; the routes in app/shops/routes.py call them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from app.config import get_settings
from app.redis import get_redis, key
from app.shops.domains import is_shop_domain

STATE_COOKIE = "dropguard_oauth_state"
STATE_TTL_SECONDS = 600


class OAuthRejected(Exception):
    """A callback or install request we must refuse (answered 400, nothing stored)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _message(params: Mapping[str, str]) -> str:
    # Shopify: drop hmac (and signature), sort by key, join k=v with & (URL-encoded values).
    pairs = sorted((k, v) for k, v in params.items() if k not in ("hmac", "signature"))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    return hmac.new(secret.encode(), _message(params).encode(), hashlib.sha256).hexdigest()


def sign_query(params: Mapping[str, str], secret: str) -> str:
    """The query string Shopify sends back to the app: the parameters plus their hex HMAC."""
    return urlencode({**params, "hmac": query_hmac(params, secret)})


def verify_query(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("hmac") or ""
    return hmac.compare_digest(query_hmac(params, secret).encode(), given.encode())


def valid_shop(value: str | None) -> str:
    shop = (value or "").strip().lower()
    if not is_shop_domain(shop):
        raise OAuthRejected("shop must be a *.myshopify.com domain")
    return shop


def check_timestamp(value: str | None, *, now: float | None = None) -> None:
    tolerance = get_settings().oauth_timestamp_tolerance_seconds
    try:
        moment = int(value or "")
    except ValueError:
        raise OAuthRejected("timestamp is missing or not a number") from None
    if abs((now or time.time()) - moment) > tolerance:
        raise OAuthRejected(f"timestamp is more than {tolerance} s away from now")


def _cookie_mac(nonce: str, shop: str) -> str:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"oauth-state:{nonce}:{shop}".encode(), hashlib.sha256).hexdigest()


def new_state(shop: str) -> tuple[str, str]:
    """A fresh nonce and the signed cookie value binding it to this browser and shop."""
    nonce = secrets.token_urlsafe(24)
    return nonce, f"{nonce}.{shop}.{_cookie_mac(nonce, shop)}"


def check_state(state: str | None, cookie: str | None, shop: str) -> None:
    """The state must be the nonce of this browser's signed cookie, for this shop, used once."""
    if not state:
        raise OAuthRejected("state is missing")
    if not cookie:
        raise OAuthRejected("the state cookie is missing (start the install again)")
    nonce, _, rest = cookie.partition(".")
    cookie_shop, _, mac = rest.rpartition(".")
    if not hmac.compare_digest(mac.encode(), _cookie_mac(nonce, cookie_shop).encode()):
        raise OAuthRejected("the state cookie is not ours")
    if not hmac.compare_digest(nonce.encode(), state.encode()) or cookie_shop != shop:
        raise OAuthRejected("state does not match this browser's install request")
    # Used once: a replayed callback (same state) is refused even with the right cookie.
    if not get_redis().set(key("oauth", "state", nonce), "1", nx=True, ex=STATE_TTL_SECONDS * 6):
        raise OAuthRejected("state was already used")


def authorize_url(shop: str, nonce: str) -> str:
    settings = get_settings()
    query = urlencode({
        "client_id": settings.shopify_api_key,
        "scope": settings.shopify_scopes,
        "redirect_uri": f"{settings.public_base}/auth/callback",
        "state": nonce,
    })
    # grant_options[] left out: an offline (per-shop) token, not a per-user one.
    return f"{settings.admin_base(shop)}/admin/oauth/authorize?{query}"


def required_scopes() -> set[str]:
    return scope_set(get_settings().shopify_scopes)


def scope_set(value: str | None) -> set[str]:
    return {s.strip() for s in (value or "").split(",") if s.strip()}


def missing_scopes(granted: str | None) -> set[str]:
    """Scopes configured but not granted. write_x implies read_x, as on Shopify."""
    have = scope_set(granted)
    have |= {"read_" + s[len("write_"):] for s in have if s.startswith("write_")}
    return required_scopes() - have
