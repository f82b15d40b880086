"""Merchant pages that span domains: the orders list, the order page as a merchant reads it (with
its proof view and the held-order fix), scoped to the shop of the session token.

Authenticated by the Shopify session token (App Bridge ID token, `?id_token=` on navigations);
the shop comes only from the verified token, and every query is scoped to it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import pycountry
from fastapi import APIRouter, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.dashboard import (
    held_fix,
    order_cards,  # noqa: F401 - registers the order page's claims card
    order_page,
    orders_list,
    service,
)
from app.dashboard.page_text import TEXT
from app.db import SessionDep
from app.evidence import service as evidence
from app.history import service as history
from app.orders.models import Order
from app.suppliers.overview import FLAG_TITLES
from app.web import nav, order_filters
from app.web.auth import MerchantPost, MerchantShop
from app.web.errors import PageNotFound
from app.web.forms import redirect_back
from app.web.panels import order_panels
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("orders", "nav.orders", "/admin/orders", order=10, group="orders")


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    text = localised(request, shop, TEXT)
    t = text["t"]
    suppliers = orders_list.suppliers(session, shop)
    query, problems = orders_list.parse(dict(request.query_params), {s.id for s in suppliers})
    page = orders_list.read_page(session, shop, query)
    context = {
        **text, "query": query, "page": page, "related": orders_list.related(session, shop, page.orders),
        "held": orders_list.held_ids(session, shop, page.orders),
        "problems": [_problem_text(t, p) for p in problems],
        "statuses": orders_list.STATUSES, "sorts": list(orders_list.SORTS), "suppliers": suppliers,
        "carriers": orders_list.carriers(session, shop), "country_options": orders_list.country_options(query.country),
        "flag_filters": [(f, _label(t, f.label_key, f.key)) for f in order_filters.order_filters()],
        "label": lambda key: _label(t, key, key), "link": lambda **change: _list_link(request, query, **change),
        "history": history.import_progress(session, shop.id),
    }
    return render(request, "dashboard/orders.html", shop, context)


def _label(t, key: str, fallback: str) -> str:
    return t(key) if TEXT.has(key) else fallback


def _problem_text(t, problem: orders_list.BadQuery) -> str:
    field = _label(t, f"field.{problem.key}", "")
    if not field:
        spec = next((f for f in order_filters.order_filters() if f.key == problem.key), None)
        field = _label(t, spec.label_key, problem.key) if spec else problem.key
    return t(problem.reason, field=field, **problem.params)


def _list_link(request: Request, query: orders_list.ListQuery, **change: str) -> str:
    """A link to this list with some parameters changed, keeping the session and the language."""
    keep = {k: request.query_params[k] for k in ("id_token", "shop", "locale") if request.query_params.get(k)}
    return "/admin/orders?" + urlencode({**keep, **query.params(**change)})


OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _order(session, shop, order_id: int) -> Order:
    order = service.order_for_shop(session, shop, order_id)
    if order is None:  # another shop's looks exactly like a missing one
        raise PageNotFound("order", order_id)
    return order


def _order_page(request: Request, session, shop, order: Order, *, token: str | None = None,
                errors: dict[str, str] | None = None, form: dict[str, str] | None = None, message: str = "",
                status_code: int = 200) -> HTMLResponse:
    text = localised(request, shop, TEXT)
    view = order_page.read(session, shop, order, text["locale"])
    address = view.address
    country = pycountry.countries.get(alpha_2=address.country_code) if address and address.country_code else None
    values = held_fix.current_values(session, order)
    context = {
        **text, "view": view, "hold_titles": FLAG_TITLES, "hold_kinds": {flag.kind for flag in view.holds},
        "address_fields": held_fix.FIELDS, "max_length": held_fix.MAX_LENGTH,
        "form_values": {**values, **(form or {})}, "errors": errors or {}, "fix_message": message,
        "country_name": country.name if country else (address.country_code if address else None),
        "panels": order_panels(session, shop, order),
        "status_keys": {f"status.{s}" for s in orders_list.STATUSES},
        "payment_keys": {k for k in ("payment.paid", "payment.pending", "payment.authorized", "payment.refunded",
                                     "payment.partially_refunded", "payment.partially_paid", "payment.voided")},
        "refund_keys": {f"refund.status.{s}" for s in ("requested", "issued", "confirmed", "failed")},
        "has_phrase": TEXT.has,
    }
    return render(request, "dashboard/order.html", shop, context, token=token, status_code=status_code)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_view(request: Request, session: SessionDep, shop: MerchantShop, order_id: OrderId) -> HTMLResponse:
    return _order_page(request, session, shop, _order(session, shop, order_id))


@router.get("/orders/{order_id}/proof", response_class=HTMLResponse)
def order_proof(request: Request, session: SessionDep, shop: MerchantShop, order_id: OrderId) -> HTMLResponse:
    order = _order(session, shop, order_id)
    text = localised(request, shop, TEXT)
    events = evidence.for_order(session, shop_id=shop.id, order_id=order.id)
    report = evidence.verify_order(session, shop.domain, events)
    context = {**text, "order": order, "report": report, "rows": order_page.proof_rows(events, text["locale"])}
    return render(request, "dashboard/proof.html", shop, context)


def _after(request: Request, session, post, order: Order, outcome: held_fix.Outcome, form: dict[str, str]):
    """Done: back to the order with what happened; refused: the page again with the errors (422)."""
    if outcome.ok or not outcome.errors:
        return redirect_back(f"/admin/orders/{order.id}", post.shop, post.token, notice=outcome.message,
                             **({"locale": request.query_params["locale"]} if request.query_params.get("locale") else {}))
    session.expire_all()
    return _order_page(request, session, post.shop, session.get(Order, order.id), token=post.token,
                       errors=outcome.errors, form=form, message=outcome.message, status_code=422)


@router.post("/orders/{order_id}/address", response_model=None)
async def fix_address(request: Request, session: SessionDep, post: MerchantPost, order_id: OrderId):
    order = _order(session, post.shop, order_id)
    raw = await request.form()
    form = {name: str(raw.get(name) or "") for name in held_fix.FIELDS if name in raw}
    shop_id = post.shop.id
    session.rollback()  # the fix runs its own transactions around the store call
    outcome = await run_in_threadpool(held_fix.fix_address, shop_id, order.id, form)
    return _after(request, session, post, order, outcome, form)


@router.post("/orders/{order_id}/order-now", response_model=None)
def order_now(request: Request, session: SessionDep, post: MerchantPost, order_id: OrderId):
    order = _order(session, post.shop, order_id)
    outcome = held_fix.order_now(session, post.shop, order)
    session.commit()
    return _after(request, session, post, order, outcome, {})


@router.post("/orders/{order_id}/release", response_model=None)
def release(request: Request, session: SessionDep, post: MerchantPost, order_id: OrderId,
            reason: Annotated[str, Form(max_length=2000)] = ""):
    order = _order(session, post.shop, order_id)
    outcome = held_fix.release_with_reason(session, post.shop, order, reason)
    session.commit()
    return _after(request, session, post, order, outcome, {"reason": reason})
