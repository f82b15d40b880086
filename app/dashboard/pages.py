"""Merchant pages that span domains: recent orders (/admin/orders) and each order's evidence timeline.

Authenticated by the Shopify session token (App Bridge ID token, `?id_token=` on navigations);
the shop comes only from the verified token, and every query is scoped to it.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from app.dashboard import service
from app.db import SessionDep
from app.history import service as history
from app.web import nav
from app.web.auth import MerchantShop
from app.web.errors import PageNotFound
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("orders", "nav.orders", "/admin/orders", order=10, group="orders")


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    rows = service.recent_orders(session, shop)
    context = {"rows": rows, "history": history.import_progress(session, shop.id)}
    return render(request, "dashboard/orders.html", shop, context)


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
