"""The customer's order-status page, reached by the signed link in every email.

Each view is recorded as evidence (accessActivityLog for "not received" disputes), so these GETs
write and commit. Unknown or tampered tokens get the same 404 whatever is wrong with them.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.db import SessionDep
from app.notifications import branding
from app.notifications import service as notifications
from app.status import service
from app.stockout import service as stock_choices
from app.templating import LOCALES, normalise_locale, page_templates, translator

router = APIRouter(prefix="/status", include_in_schema=False)

# The token in the URL is a credential: never cached, never sent on to carrier sites, never indexed.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

LangQuery = Annotated[str | None, Query(max_length=16, description="en, fr, es or de")]


def _visitor(request: Request) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None), request.headers.get("user-agent")


def _accepted_locale(request: Request) -> str:
    for item in request.headers.get("accept-language", "").split(","):
        language = item.split(";")[0].strip().lower().split("-")[0]
        if language in LOCALES:
            return language
    return "en"


def _locale(lang: str | None, fallback: str) -> str:
    return lang.lower() if lang and lang.lower() in LOCALES else normalise_locale(fallback)


def _not_found(request: Request, lang: str | None) -> HTMLResponse:
    return error_page(request, 404, lang)


def is_customer_page(request: Request) -> bool:
    path = request.url.path
    return path == router.prefix or path.startswith(router.prefix + "/")


def error_page(request: Request, status_code: int, lang: str | None = None) -> HTMLResponse:
    """Every error a customer can meet under /status (a bad or old link, a malformed address, our
    own failure) is a page in their language that leads back to the order lookup."""
    raw = lang if lang is not None else request.query_params.get("lang")
    locale = _locale(raw if raw and len(raw) <= 16 else None, _accepted_locale(request))
    context = {"locale": locale, "t": translator(locale), "status": status_code}
    return page_templates().TemplateResponse(
        request, "status/not_found.html", context, status_code=status_code, headers=_HEADERS
    )


@router.get("/{token}", response_class=HTMLResponse)
def order_status(token: str, request: Request, session: SessionDep, lang: LangQuery = None) -> HTMLResponse:
    located = service.locate(session, token)
    if located is None:
        return _not_found(request, lang)
    context = service.page_context(session, located, locale=_locale(lang, located.order.locale))
    context["stock_choice"] = stock_choices.for_order(session, located.order.id)  # out of stock: the customer chooses
    ip, user_agent = _visitor(request)
    service.record_view(session, located, ip=ip, user_agent=user_agent, locale=context["locale"], page="status")
    session.commit()
    return page_templates().TemplateResponse(request, "status/order.html", context,
                                             headers=_headers_with_logo(context["look"].logo_url))


def _headers_with_logo(logo_url: str) -> dict[str, str]:
    """The shop's logo is the one outside image the page may load (its origin only; no referrer)."""
    if not logo_url:
        return _HEADERS
    origin = "https://" + urlsplit(logo_url).netloc
    policy = _HEADERS["Content-Security-Policy"].replace("img-src data:", f"img-src data: {origin}")
    return {**_HEADERS, "Content-Security-Policy": policy}


@router.get("/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe_form(token: str, request: Request, session: SessionDep, lang: LangQuery = None) -> HTMLResponse:
    # A GET only asks: mail scanners follow links, and must not unsubscribe anyone.
    located = service.locate(session, token)
    if located is None:
        return _not_found(request, lang)
    locale = _locale(lang, located.order.locale)
    context = {
        "locale": locale,
        "t": translator(locale),
        "order_name": located.order.name,
        "shop_name": branding.look(located.shop).name,
        "token": token,
        "done": notifications.is_unsubscribed(session, located.order),
    }
    return page_templates().TemplateResponse(request, "status/unsubscribe.html", context, headers=_HEADERS)


@router.post("/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, session: SessionDep, lang: LangQuery = None) -> HTMLResponse:
    """RFC 8058 one-click (List-Unsubscribe-Post) and the page's own button both land here."""
    located = service.locate(session, token)
    if located is None:
        return _not_found(request, lang)
    ip, user_agent = _visitor(request)
    notifications.unsubscribe(session, located.order, ip=ip, user_agent=user_agent)
    session.commit()
    locale = _locale(lang, located.order.locale)
    context = {
        "locale": locale,
        "t": translator(locale),
        "order_name": located.order.name,
        "shop_name": branding.look(located.shop).name,
        "token": token,
        "done": True,
    }
    return page_templates().TemplateResponse(request, "status/unsubscribe.html", context, headers=_HEADERS)
