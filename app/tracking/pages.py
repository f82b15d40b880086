"""Merchant page: shipments needing attention (open tracking alerts), scoped to the token's shop."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.db import SessionDep
from app.tracking import alerts
from app.tracking import attention as _attention  # noqa: F401 - registers its items on Home
from app.tracking.page_text import TEXT
from app.web import nav
from app.web.auth import MerchantShop
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("shipments", "nav.shipments", "/admin/shipments", order=30, group="orders")

@router.get("/shipments", response_class=HTMLResponse)
def shipments_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    words = localised(request, shop, TEXT)
    t = words["t"]
    rows = [
        {"alert": alert, "order": order, "shipment": shipment,
         # What each condition means to a merchant, and what usually helps (app/tracking/page_text.py).
         "title": t(f"condition.{alert.condition}.title") if TEXT.has(f"condition.{alert.condition}.title") else alert.condition,
         "advice": t(f"condition.{alert.condition}.advice") if TEXT.has(f"condition.{alert.condition}.advice") else ""}
        for alert, order, shipment in alerts.attention_rows(session, shop.id)
    ]
    return render(request, "tracking/shipments.html", shop, {**words, "rows": rows})
