"""/auth/*: installing the app. The authorization-code grant for installs from outside the admin
(GET /auth/install, GET /auth/callback) and token exchange for the embedded app (POST
/auth/session, GET /auth/embedded). Bad input is answered 400 and nothing is stored."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse

from app.config import get_settings
from app.db import SessionDep
from app.errors import AppError, Unauthorized
from app.shops import install, oauth, tokens

router = APIRouter(prefix="/auth")


def _refuse(reason: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "detail": reason}, status_code=400)


@router.get("/install", response_model=None)
def start_install(request: Request) -> RedirectResponse | JSONResponse:
    settings = get_settings()
    params = dict(request.query_params)
    try:
        shop = oauth.valid_shop(params.get("shop"))
        if "hmac" in params:  # an install link from the store is signed; a typed URL is not
            if not oauth.verify_query(params, settings.shopify_api_secret):
                raise oauth.OAuthRejected("hmac does not match the query")
            oauth.check_timestamp(params.get("timestamp"))
    except oauth.OAuthRejected as error:
        return _refuse(error.reason)
    nonce, cookie = oauth.new_state(shop)
    response = RedirectResponse(oauth.authorize_url(shop, nonce), status_code=302)
    response.set_cookie(oauth.STATE_COOKIE, cookie, max_age=oauth.STATE_TTL_SECONDS, httponly=True,
                        samesite="lax", secure=settings.public_base.startswith("https://"), path="/auth")
    return response


@router.get("/callback", response_model=None)
def finish_install(request: Request, session: SessionDep) -> RedirectResponse | JSONResponse:
    settings = get_settings()
    params = dict(request.query_params)
    try:
        shop = oauth.valid_shop(params.get("shop"))
        if not oauth.verify_query(params, settings.shopify_api_secret):
            raise oauth.OAuthRejected("hmac does not match the query")
        oauth.check_timestamp(params.get("timestamp"))
        if not params.get("code"):
            raise oauth.OAuthRejected("code is missing")
        oauth.check_state(params.get("state"), request.cookies.get(oauth.STATE_COOKIE), shop)
        grant = tokens.exchange_code(shop, params["code"])
    except oauth.OAuthRejected as error:
        return _refuse(error.reason)
    except tokens.TokenRefused as error:
        return _refuse(error.message)
    except tokens.TokenTemporaryError as error:
        return JSONResponse({"error": "store_unavailable", "detail": error.message}, status_code=502)
    install.record_install(session, domain=shop, grant=grant, via="authorization_code")
    session.commit()
    # Back into the store admin, which opens the app with a fresh session token.
    response = RedirectResponse(f"{settings.admin_base(shop)}/admin/apps/{settings.shopify_api_key}", status_code=302)
    response.delete_cookie(oauth.STATE_COOKIE, path="/auth")
    return response


def _session_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else request.query_params.get("id_token", "")
    if not token:
        raise Unauthorized("a Shopify session token is required")
    return token


@router.post("/session")
def token_exchange(request: Request, session: SessionDep) -> dict[str, object]:
    """The embedded app's first call: install by token exchange if needed. Never returns tokens."""
    try:
        shop, reconsent = install.install_from_session_token(session, _session_token(request))
    except tokens.TokenRefused as error:
        raise AppError(error.message, status_code=400, code="token_exchange_refused") from None
    except tokens.TokenTemporaryError as error:
        raise AppError(error.message, status_code=502, code="store_unavailable") from None
    session.commit()
    body: dict[str, object] = {"shop": shop.domain, "installed": True, "reconsent_required": reconsent}
    if reconsent:
        body["reconsent_url"] = f"{get_settings().public_base}/auth/install?{urlencode({'shop': shop.domain})}"
    return body


@router.get("/embedded", response_model=None)
def embedded_entry(request: Request, session: SessionDep) -> RedirectResponse:
    """App URL inside the admin: install by token exchange, ask for consent again if the configured
    scopes grew, then open the dashboard with the same session token."""
    token = _session_token(request)
    try:
        shop, reconsent = install.install_from_session_token(session, token)
    except tokens.TokenRefused as error:
        raise AppError(error.message, status_code=400, code="token_exchange_refused") from None
    except tokens.TokenTemporaryError as error:
        raise AppError(error.message, status_code=502, code="store_unavailable") from None
    session.commit()
    if reconsent:
        return RedirectResponse(f"/auth/install?{urlencode({'shop': shop.domain})}", status_code=302)
    return RedirectResponse(f"/admin?{urlencode({'id_token': token, 'shop': shop.domain})}", status_code=302)
