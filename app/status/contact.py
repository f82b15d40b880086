"""The customer's contact form, reached from their order-status page: a message to the shop.

The message is recorded in the ledger (its words in the redactable personal part) and classified
like every customer text (reason, urgency, language) by the analytics queue; an urgent one raises
its order in the merchant's queue. A form posted twice (a double click) is one message: the page
carries a one-time submission id.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from redis.exceptions import RedisError

from app.db import SessionDep
from app.insights import messages
from app.notifications import branding
from app.status import service
from app.status.lookup import _hit
from app.status.pages import _HEADERS, LangQuery, _locale, _not_found, _visitor
from app.templating import page_templates, translator

router = APIRouter(prefix="/status", include_in_schema=False)
MAX_MESSAGE = 4000
# Messages one order may send per hour: enough for a worried customer, not for a flood.
PER_ORDER_PER_HOUR = 6


def _page(request: Request, located, locale: str, *, sent: bool = False, error: str | None = None,
          message: str = "", submission: str | None = None, status_code: int = 200) -> HTMLResponse:
    context = {
        "locale": locale, "t": translator(locale), "order_name": located.order.name,
        "shop_name": branding.look(located.shop).name, "token": service.tokens.token_for(located.order),
        "sent": sent, "error": error, "message": message, "max_message": MAX_MESSAGE,
        "submission": submission or uuid.uuid4().hex,
    }
    return page_templates().TemplateResponse(request, "status/contact.html", context, status_code=status_code,
                                             headers=_HEADERS)


@router.get("/{token}/contact", response_class=HTMLResponse)
def contact_form(token: str, request: Request, session: SessionDep, lang: LangQuery = None) -> HTMLResponse:
    located = service.locate(session, token)
    if located is None:
        return _not_found(request, lang)
    return _page(request, located, _locale(lang, located.order.locale))


@router.post("/{token}/contact", response_class=HTMLResponse)
def contact_send(
    token: str, request: Request, session: SessionDep,
    message: Annotated[str, Form()] = "", submission: Annotated[str, Form(max_length=64)] = "",
    lang: LangQuery = None,
) -> HTMLResponse:
    located = service.locate(session, token)
    if located is None:
        return _not_found(request, lang)
    locale = _locale(lang, located.order.locale)
    t = translator(locale)
    text = message.replace("\x00", "").strip()
    if not text:
        return _page(request, located, locale, error=t("contact.empty"), status_code=400)
    if len(text) > MAX_MESSAGE:
        return _page(request, located, locale, error=t("contact.too_long", count=MAX_MESSAGE), message=text[:MAX_MESSAGE],
                     status_code=400)
    if not submission.isalnum():
        submission = uuid.uuid4().hex
    try:
        waiting = _hit(f"contact:{located.order.id}", PER_ORDER_PER_HOUR, 3600)
    except RedisError:
        waiting = None  # the form keeps working when Redis blips; the flood limit is best effort
    if waiting is not None:
        return _page(request, located, locale, error=t("contact.too_many"), message=text, status_code=429)
    ip, user_agent = _visitor(request)
    messages.record(
        session, located.shop, source="contact_form", source_ref=f"{located.order.id}:{submission}", body=text,
        order_id=located.order.id, evidence_kind="status.contact_message",
        personal={"ip": ip, "user_agent": (user_agent or "")[:512]},
    )
    session.commit()
    return _page(request, located, locale, sent=True)
