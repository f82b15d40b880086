"""The stock-out choice: the customer's page (wait, or cancel and be refunded), and the merchant's
order card and "needs attention" item.

The signed status token is the customer's credential, as on the rest of the status site. A submit
is carried out under the choice's advisory lock; a second submit (a double click, a second tab)
finds the first answer and only shows it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import SessionDep
from app.orders.models import Order, OrderLine
from app.shops.models import Shop
from app.status import service as status
from app.status.pages import _HEADERS, LangQuery, _locale, _not_found, _visitor
from app.stockout import service
from app.stockout.models import StockChoice
from app.stockout.page_text import TEXT
from app.templating import format_datetime, format_money, page_templates, translator
from app.web.attention import register_attention
from app.web.order_filters import register_order_filter
from app.web.panels import register_order_panel

router = APIRouter(prefix="/status", include_in_schema=False)


def _lines(session: Session, choice: StockChoice) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == choice.order_id,
                                                        OrderLine.id.in_(choice.line_ids)).order_by(OrderLine.id)))


def _page(request: Request, session: Session, located: status.Located, choice: StockChoice, token: str,
          locale: str, *, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    shop_name = located.shop.name or located.shop.domain
    context = {
        "locale": locale, "t": translator(locale), "token": token, "order_name": located.order.name,
        "shop_name": shop_name, "choice": choice, "lines": _lines(session, choice), "error": error,
        "amount_text": format_money(choice.amount, choice.currency, locale),
    }
    return page_templates().TemplateResponse(request, "stockout/choice.html", context, status_code=status_code,
                                             headers=_HEADERS)


def _located(session: Session, token: str) -> tuple[status.Located, StockChoice] | None:
    located = status.locate(session, token)
    if located is None:
        return None
    choice = service.for_order(session, located.order.id)
    return (located, choice) if choice is not None else None


@router.get("/{token}/stock-choice", response_class=HTMLResponse)
def choice_page(token: str, request: Request, session: SessionDep, lang: LangQuery = None) -> HTMLResponse:
    found = _located(session, token)
    if found is None:
        return _not_found(request, lang)
    located, choice = found
    return _page(request, session, located, choice, token, _locale(lang, located.order.locale))


@router.post("/{token}/stock-choice", response_class=HTMLResponse, response_model=None)
def choose(token: str, request: Request, session: SessionDep, lang: LangQuery = None,
           option: Annotated[str, Form(max_length=16)] = "") -> HTMLResponse | RedirectResponse:
    found = _located(session, token)
    if found is None:
        return _not_found(request, lang)
    located, choice = found
    locale = _locale(lang, located.order.locale)
    if option not in service.OPTIONS:
        return _page(request, session, located, choice, token, locale,
                     error=translator(locale)("stock_choice.bad_option"), status_code=400)
    ip, user_agent = _visitor(request)
    with exactly_once.advisory_lock(exactly_once.STOCK_CHOICE, choice.id) as acquired:
        # Not acquired: the same answer is being carried out by a first submit; the page shows it.
        if acquired:
            service.choose(session, located.shop, located.order, choice, option, ip=ip, user_agent=user_agent)
            session.commit()
    return RedirectResponse(f"/status/{token}/stock-choice?lang={locale}", status_code=303, headers=_HEADERS)


# -- the merchant's side ---------------------------------------------------------------------------


def _order_panel(session: Session, shop: Shop, order: Order) -> dict[str, Any] | None:
    choice = service.for_order(session, order.id)
    if choice is None:
        return None
    return {"choice": choice, "lines": _lines(session, choice), "text": TEXT,
            "amount": lambda locale: format_money(choice.amount, choice.currency, locale),
            "chosen_at": lambda locale: format_datetime(choice.chosen_at, locale, shop.timezone)}


register_order_panel("stock_choice", "stockout/_order_panel.html", _order_panel, order=25)
def _stock_choice_open(shop: Shop, value: str) -> ColumnElement[bool]:
    """Orders whose customer has not answered the stock-out question yet, or whose refund failed."""
    found = exists(select(StockChoice.id).where(StockChoice.order_id == Order.id, StockChoice.shop_id == shop.id,
                                                StockChoice.status.in_(service.OPEN)))
    return found if value == "yes" else ~found


register_order_filter("stock_choice_open", "filter.stock_choice_open", {"yes": "filter.yes", "no": "filter.no"},
                      _stock_choice_open, order=50)
register_attention("stock_choices", "home.attention.stock_choices", "/admin/orders?stock_choice_open=yes",
                   service.count_open, tone="warning", order=35)
