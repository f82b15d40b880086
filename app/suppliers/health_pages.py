"""Merchant page: supplier health (circuit state, held orders, SLA breaches), scoped to the
session token's shop. Its own item in the Suppliers group of the navigation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.db import SessionDep
from app.suppliers import health_report
from app.suppliers.page_text import TEXT
from app.web import nav
from app.web.auth import MerchantShop
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("health", "nav.health", "/admin/suppliers/health", order=22, group="suppliers")

# A circuit state's badge tone; its words are TEXT's "circuit.<state>".
CIRCUIT_TONES = {"closed": "ok", "open": "bad", "half_open": "warn"}


@router.get("/suppliers/health", response_class=HTMLResponse)
def supplier_health_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = {
        **localised(request, shop, TEXT),
        "rows": health_report.suppliers(session, shop),
        "breaches": health_report.breaches(session, shop),
        "events": health_report.circuit_events(session, shop),
        "circuit_tones": CIRCUIT_TONES,
    }
    return render(request, "suppliers/health.html", shop, context)
