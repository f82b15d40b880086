"""HTTP face of the store's OAuth (token endpoint, authorize page) and its control view."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse

from app.sandbox.store import oauth, state, subscriptions
from app.shops.domains import is_shop_domain

router = APIRouter()


async def _form(request: Request) -> dict[str, str]:
    """Shopify's token endpoint takes a form or a JSON body."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


@router.post("/{shop}/admin/oauth/access_token")
async def access_token(request: Request, shop: str) -> JSONResponse:
    if not is_shop_domain(shop):
        return JSONResponse({"error": "invalid_request", "error_description": "unknown shop"}, status_code=400)
    form = await _form(request)
    try:
        answer = await run_in_threadpool(oauth.access_token, shop, form)
    except oauth.OAuthError as error:
        return JSONResponse(error.body, status_code=error.status)
    return JSONResponse(answer)


@router.get("/{shop}/admin/oauth/authorize", response_model=None)
def authorize(request: Request, shop: str) -> RedirectResponse | JSONResponse:
    if not is_shop_domain(shop):
        return JSONResponse({"error": "invalid_request", "error_description": "unknown shop"}, status_code=400)
    try:
        location = oauth.authorize(shop, dict(request.query_params))
    except oauth.OAuthError as error:
        return JSONResponse(error.body, status_code=error.status)
    return RedirectResponse(location, status_code=302)


@router.get("/{shop}/admin/apps/{api_key}", response_model=None)
def open_app(shop: str, api_key: str) -> RedirectResponse:
    """Where an app lands after OAuth: the admin opens it with a fresh session token."""
    return RedirectResponse(f"/sandbox/shopify/{shop}/admin", status_code=302)


@router.get("/_control/shops/{domain}/oauth")
def control_oauth(domain: str) -> dict[str, Any]:
    """What the store knows of the app's install: calls per grant, granted scopes, subscriptions."""
    shop = state.get_shop(domain)
    return {
        "installed": shop is not None and bool(state.shop_for_token(shop["access_token"])),
        "calls": oauth.calls(domain),
        "scopes": oauth.granted_scopes(domain),
        "subscriptions": subscriptions.list_all(domain),
    }
