"""GET /status (the lookup form) and POST /status/lookup (order number + email -> signed link).

Every failure (unknown order, wrong email, malformed input) renders the very same page with the
same status code; only a match differs, by redirecting to the order's signed status URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.db import SessionDep
from app.status import lookup, tokens
from app.status.pages import _HEADERS, LangQuery, _accepted_locale, _locale, _visitor
from app.templating import page_templates, translator

router = APIRouter(prefix="/status", include_in_schema=False)

# No length limits here: an over-long value is malformed input, answered like any miss (a 422
# would be a different answer); lookup.normalise_* refuse it.
FormText = Annotated[str, Form()]


def _form(request: Request, locale: str, *, failed: bool, shop: str = "", status_code: int = 200,
          order: str = "", email: str = "", retry_after: int | None = None) -> HTMLResponse:
    # After a wait (429) what the visitor typed comes back in the form, so they need not retype it
    # (the page is no-store; the values are their own). A miss does not echo: every miss must be
    # the very same page.
    context = {
        "locale": locale, "t": translator(locale), "failed": failed, "shop_hint": shop[:255],
        "order_value": order.strip()[:40], "email_value": email.strip()[:320],
        "retry_minutes": max(1, -(-retry_after // 60)) if retry_after else None,
    }
    return page_templates().TemplateResponse(
        request, "status/lookup.html", context, status_code=status_code, headers=_HEADERS
    )


@router.get("", response_class=HTMLResponse)
def lookup_form(request: Request, lang: LangQuery = None, shop: str = "") -> HTMLResponse:
    return _form(request, _locale(lang, _accepted_locale(request)), failed=False, shop=shop)


@router.post("/lookup", response_class=HTMLResponse, response_model=None)
def lookup_order(
    request: Request,
    session: SessionDep,
    order: FormText = "",
    email: FormText = "",
    shop: FormText = "",
    lang: LangQuery = None,
) -> HTMLResponse | RedirectResponse:
    locale = _locale(lang, _accepted_locale(request))
    ip, user_agent = _visitor(request)
    limited = lookup.check_limits(ip, lookup.normalise_number(order))
    if limited:
        response = _form(request, locale, failed=False, shop=shop, status_code=429, order=order, email=email,
                         retry_after=limited.retry_after)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    found = lookup.find(session, order, email, shop_domain=shop or None)
    if found is None:
        return _form(request, locale, failed=True, shop=shop)
    lookup.record(session, found, ip=ip, user_agent=user_agent)
    session.commit()
    return RedirectResponse(tokens.status_url(found), status_code=303, headers=_HEADERS)
