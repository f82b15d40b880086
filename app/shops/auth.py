"""Merchant authentication: Shopify session tokens (App Bridge ID tokens).

The shop comes only from the verified token's `dest` claim, never from anything the client sends.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import jwt
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_session
from app.errors import Unauthorized
from app.shops.domains import is_shop_domain
from app.shops.models import Shop
from app.shops.service import get_by_domain

LEEWAY_SECONDS = 10


def shop_domain_from_token(token: str) -> str:
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.shopify_api_secret,
            algorithms=["HS256"],
            audience=settings.shopify_api_key,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "aud", "dest", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid session token: {error}") from None
    dest_host = urlsplit(str(claims["dest"])).hostname or ""
    iss_host = urlsplit(str(claims["iss"])).hostname or ""
    if not is_shop_domain(dest_host) or iss_host != dest_host:
        raise Unauthorized("invalid session token: dest and iss must be the same myshopify domain")
    return dest_host


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # Page navigations inside the admin carry the token as ?id_token= (App Bridge).
    token = request.query_params.get("id_token", "")
    if token:
        return token
    raise Unauthorized("a Shopify session token is required (Authorization: Bearer …)")


def current_shop(request: Request, session: Annotated[Session, Depends(get_session)]) -> Shop:
    domain = shop_domain_from_token(_bearer(request))
    shop = get_by_domain(session, domain)
    if shop is None or not shop.is_installed:
        raise Unauthorized(f"{domain} has not installed this app")
    return shop


CurrentShop = Annotated[Shop, Depends(current_shop)]
