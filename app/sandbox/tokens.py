"""Session tokens as the store admin mints them, and the emulated admin that opens the app."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse

from app.config import get_settings
from app.shops.domains import is_shop_domain

router = APIRouter()
SANDBOX_USER_ID = "1"


def mint_session_token(shop_domain: str, *, ttl: int = 60) -> str:
    """An App Bridge ID token: HS256 with the app secret, audience the API key, 60 s by default."""
    settings = get_settings()
    now = int(time.time())
    claims = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": settings.shopify_api_key,
        "sub": SANDBOX_USER_ID,
        "exp": now + ttl,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.shopify_api_secret, algorithm="HS256")


@router.get("/shopify/{shop}/admin", response_model=None)
def emulated_admin(shop: str) -> RedirectResponse | JSONResponse:
    """What opening the app in the store admin does: load the app URL with a fresh ID token."""
    shop = shop.strip().lower()
    if not is_shop_domain(shop):
        return JSONResponse({"error": "shop must be a *.myshopify.com domain"}, status_code=400)
    query = urlencode({"id_token": mint_session_token(shop), "shop": shop})
    return RedirectResponse(f"{get_settings().public_base}/admin?{query}", status_code=302)
