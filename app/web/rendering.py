"""Rendering merchant pages: the headers every embedded page needs and the context every
dashboard template can rely on (the shop, its navigation, the session token for links and forms,
and formatters in the merchant's language and time zone)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.config import get_settings
from app.shops.models import Shop
from app.templating import page_templates
from app.web import nav
from app.web.phrases import counted, formatters, locale_of, phrase

# Status words -> badge tone; anything else is shown neutral.
_BADGES = {
    "paid": "info", "supplier_ordered": "info", "placed": "info", "confirmed": "info", "pending": "",
    "shipped": "ok", "delivered": "ok", "sent": "ok", "pushed": "ok",
    "sending": "warn", "open": "warn", "skipped": "",
    "cancelled": "bad", "failed": "bad",
    "done": "ok", "held": "warn",
    "running": "info", "completed": "ok",  # the history import
}


def page_headers(shop_domain: str | None) -> dict[str, str]:
    # Embedded apps may be framed only by the store's admin (Shopify's clickjacking requirement).
    ancestors = f"https://{shop_domain} https://admin.shopify.com" if shop_domain else "https://admin.shopify.com"
    return {
        "Content-Security-Policy": f"frame-ancestors {ancestors};",
        "Cache-Control": "no-store",
        # Page URLs carry the session token (?id_token=): never hand it to another site in a Referer.
        "Referrer-Policy": "same-origin",
    }


def session_query(token: str | None, shop: Shop | None, locale: str | None = None) -> str:
    """The query string that keeps a navigation inside the admin signed in (?id_token=&shop=), and
    in the language the admin asked for (?locale=, when it did)."""
    pairs = (("id_token", token), ("shop", shop.domain if shop else None), ("locale", locale))
    return urlencode({k: v for k, v in pairs if v})


def base_context(request: Request, shop: Shop | None, *, token: str | None = None) -> dict[str, Any]:
    """What every dashboard template gets. `token` is the session token the page was opened or
    posted with (a form post re-rendering its page passes the one from its hidden field)."""
    from app.web.page_text import TEXT

    token = token if token is not None else request.query_params.get("id_token", "")
    locale = locale_of(request, shop)
    asked = request.query_params.get("locale")
    active = nav.active_key(request.url.path)
    return {
        "locale": locale,
        "t": TEXT.translator(locale),
        # A label another module registered (a nav item, an attention item): a phrase key.
        "label": lambda key, **params: phrase(locale, key, **params),
        "counted": lambda key, count: counted(locale, key, count),
        "api_key": get_settings().shopify_api_key,
        "shop": shop,
        "token": token,
        "nav_query": session_query(token, shop, locale if asked else None),
        "nav": nav.items() if shop else [],
        "nav_groups": nav.groups() if shop else [],
        "active": active,
        "active_group": nav.group_of(active),
        "is_home": request.url.path.rstrip("/") == nav.HOME_PATH,
        "badge": lambda status: _BADGES.get(status or "", ""),
        **formatters(locale, shop),
        "notice": request.query_params.get("notice", "")[:300],
    }


def render(request: Request, template: str, shop: Shop | None, context: dict[str, Any] | None = None, *,
           token: str | None = None, status_code: int = 200) -> HTMLResponse:
    """A merchant page: `template` with the base context, the page's own context over it."""
    full = {**base_context(request, shop, token=token), **(context or {})}
    return page_templates().TemplateResponse(
        request, template, full, status_code=status_code, headers=page_headers(shop.domain if shop else None)
    )
