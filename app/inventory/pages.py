"""Merchant page: inventory sync (lag, pending changes, margin alerts), scoped to the token's shop."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.db import SessionDep
from app.inventory import report
from app.inventory.page_text import TEXT
from app.inventory.service import margin_floor, safety_buffer
from app.web import nav
from app.web.auth import MerchantShop
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("inventory", "nav.inventory", "/admin/inventory", order=25, group="suppliers")


@router.get("/inventory", response_class=HTMLResponse)
def inventory_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = {**localised(request, shop, TEXT), "overview": report.inventory(session, shop),
               "buffer": safety_buffer(shop), "floor": margin_floor(shop)}
    return render(request, "inventory/inventory.html", shop, context)
