"""Merchant pages embedded in the store admin: recent orders and each order's evidence timeline.

Authenticated by the Shopify session token (App Bridge ID token, `?id_token=` on navigations);
the shop comes only from the verified token, and every query is scoped to it.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.config import get_settings
from app.dashboard import nav, service
from app.db import SessionDep
from app.errors import Unauthorized
from app.history import service as history
from app.shops.auth import current_shop
from app.shops.domains import is_shop_domain
from app.shops.models import Shop
from app.templating import format_datetime, format_money, page_templates

router = APIRouter(prefix="/admin", include_in_schema=False)

_BADGES = {
    "paid": "info", "supplier_ordered": "info", "placed": "info", "confirmed": "info", "pending": "",
    "shipped": "ok", "delivered": "ok", "sent": "ok", "pushed": "ok",
    "sending": "warn", "open": "warn", "skipped": "",
    "cancelled": "bad", "failed": "bad",
    "done": "ok", "held": "warn",
    "running": "info", "completed": "ok",  # the history import
}


def _headers(shop_domain: str | None) -> dict[str, str]:
    # Embedded apps may be framed only by the store's admin (Shopify's clickjacking requirement).
    ancestors = f"https://{shop_domain} https://admin.shopify.com" if shop_domain else "https://admin.shopify.com"
    return {
        "Content-Security-Policy": f"frame-ancestors {ancestors};",
        "Cache-Control": "no-store",
        # Page URLs carry the session token (?id_token=): never hand it to another site in a Referer.
        "Referrer-Policy": "same-origin",
    }


def _base_context(request: Request, shop: Shop | None) -> dict:
    settings = get_settings()
    return {
        "locale": "en",
        "api_key": settings.shopify_api_key,
        "shop": shop,
        "nav_query": urlencode(
            {k: v for k, v in (("id_token", request.query_params.get("id_token")), ("shop", shop.domain if shop else None)) if v}
        ),
        "nav": nav.items() if shop else [],
        "active": nav.active_key(request.url.path),
        "badge": lambda status: _BADGES.get(status or "", ""),
        "money": lambda amount, currency: format_money(amount, currency, "en"),
        "when": lambda moment: format_datetime(moment, "en", shop.timezone if shop else None),
    }


def _page(request: Request, name: str, context: dict, *, status_code: int = 200) -> HTMLResponse:
    shop = context.get("shop")
    return page_templates().TemplateResponse(
        request, name, context, status_code=status_code, headers=_headers(shop.domain if shop else None)
    )


def _authenticate(request: Request, session: Session) -> Shop | HTMLResponse:
    try:
        return current_shop(request, session)
    except Unauthorized as error:
        hinted = request.query_params.get("shop", "")
        shop_hint = hinted if is_shop_domain(hinted) else ""
        reopen = ""
        if shop_hint:
            # Reopening the app from the admin mints a fresh session token (they live one minute).
            reopen = get_settings().admin_base(shop_hint) + "/admin"
        context = {**_base_context(request, None), "reason": error.message, "reopen_url": reopen}
        return _page(request, "dashboard/unauthorized.html", context, status_code=401)


@router.get("", response_class=HTMLResponse)
def orders_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    rows = service.recent_orders(session, shop)
    context = {**_base_context(request, shop), "rows": rows, "history": history.import_progress(session, shop.id)}
    return _page(request, "dashboard/orders.html", context)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request, session: SessionDep, order_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    context = _base_context(request, shop)
    order = service.order_for_shop(session, shop, order_id)
    if order is None:
        return _page(request, "dashboard/not_found.html", {**context, "order_id": order_id}, status_code=404)
    row, events = service.order_detail(session, shop, order)
    timeline = [
        {
            "seq": e.seq,
            "kind": e.kind,
            "source": e.source,
            "occurred_at": e.occurred_at,
            "recorded_at": e.recorded_at,
            "hash": e.hash[:12],
            "data": json.dumps(e.data, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)[:400],
            # Personal data is never shown here; only whether the event carries (or carried) some.
            "personal": "redacted" if e.personal_digest and e.personal is None else ("kept" if e.personal_digest else ""),
        }
        for e in events
    ]
    return _page(request, "dashboard/order.html", {**context, "row": row, "timeline": timeline})
