"""Merchant page: supplier health (circuit state, held orders, SLA breaches), scoped to the
session token's shop. Its own item in the Suppliers group of the navigation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.db import SessionDep
from app.suppliers import health_report
from app.web import nav
from app.web.auth import MerchantShop
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("health", "nav.health", "/admin/suppliers/health", order=22, group="suppliers")

CONDITION_TEXT = {"confirm": "Not confirmed in time", "ship": "Not shipped in time", "tracking": "No tracking in time"}
CIRCUIT_TEXT = {
    "closed": ("ok", "Healthy"),
    "open": ("bad", "Down: orders are held"),
    "half_open": ("warn", "Recovering: trying one order"),
}


@router.get("/suppliers/health", response_class=HTMLResponse)
def supplier_health_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = {
        "rows": health_report.suppliers(session, shop),
        "breaches": health_report.breaches(session, shop),
        "events": health_report.circuit_events(session, shop),
        "conditions": CONDITION_TEXT,
        "circuits": CIRCUIT_TEXT,
    }
    return render(request, "suppliers/health.html", shop, context)
