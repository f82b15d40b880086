"""Merchant form posts: authenticated by the session token they carry, and refused cross-site.

The session token is not a cookie, so a page on another site cannot make the browser send it: a
forged form has no valid token (the hidden `id_token` field, or the Authorization header a fetch
sets). As a second wall, a post whose Origin is another site, or that the browser labels
`Sec-Fetch-Site: cross-site`, is refused before anything is read.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import AppError, Unauthorized
from app.shops.auth import shop_domain_from_token
from app.shops.models import Shop
from app.shops.service import get_by_domain


class CrossSiteRequest(AppError):
    status_code = 403
    code = "cross_site"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request) -> None:
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise CrossSiteRequest("cross-site form posts are refused")
    origin = request.headers.get("origin")
    if origin is None:
        return  # not sent by every client; the session token is the defence that always holds
    allowed = {_origin(get_settings().public_base), _origin(str(request.base_url))}
    if origin.lower() not in allowed:
        raise CrossSiteRequest(f"form posts from {origin} are refused")


def shop_for_post(request: Request, session: Session, form_token: str | None) -> Shop:
    """The shop of the session token in the Authorization header or the form's id_token field.

    Never from the query string: a token in a form action URL could be replayed from a log.
    """
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else ""
    token = token or (form_token or "").strip()
    if not token:
        raise Unauthorized("a Shopify session token is required (the form's id_token field)")
    domain = shop_domain_from_token(token)
    shop = get_by_domain(session, domain)
    if shop is None or not shop.is_installed:
        raise Unauthorized(f"{domain} has not installed this app")
    return shop


def redirect_back(path: str, shop: Shop, token: str, *, fragment: str = "", **params: str) -> RedirectResponse:
    """After a form post: back to `path` (303) with the merchant still signed in and what happened
    in ?notice= (shown as a toast by the layout)."""
    query = urlencode({"id_token": token, "shop": shop.domain, **{k: v for k, v in params.items() if v is not None}})
    return RedirectResponse(f"{path}?{query}" + (f"#{fragment}" if fragment else ""), status_code=303)
