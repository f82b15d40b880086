"""Merchant pages that span domains: recent orders and each order's evidence timeline.

Authenticated by the Shopify session token (App Bridge ID token, `?id_token=` on navigations);
the shop comes only from the verified token, and every query is scoped to it.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from app.dashboard import orders_list, service
from app.dashboard.page_text import TEXT
from app.db import SessionDep
from app.history import service as history
from app.web import nav, order_filters
from app.web.auth import MerchantShop
from app.web.errors import PageNotFound
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("orders", "Orders", "/admin/orders", order=10, prefixes=("/admin/orders",))


# Home is the orders list until the home page (issue 9 §3) takes /admin.
@router.get("", response_class=HTMLResponse)
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
        "carriers": orders_list.carriers(session, shop), "countries": orders_list.countries(),
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


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request, session: SessionDep, shop: MerchantShop, order_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> HTMLResponse:
    order = service.order_for_shop(session, shop, order_id)
    if order is None:
        raise PageNotFound("order", order_id)
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
    return render(request, "dashboard/order.html", shop, {"row": row, "timeline": timeline})
