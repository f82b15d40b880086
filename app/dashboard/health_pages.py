"""Merchant pages: supplier health (circuit state, held orders, SLA breaches) and inventory sync
(lag, pending changes, margin alerts), each scoped to the session token's shop."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.dashboard import health_service as service
from app.dashboard import nav
from app.dashboard.pages import _authenticate, _base_context, _page
from app.db import SessionDep
from app.inventory.service import margin_floor, safety_buffer

router = APIRouter(prefix="/admin", include_in_schema=False)
# The health page sits under Suppliers in the navigation (its path starts with /admin/suppliers/).
nav.register("inventory", "Inventory", "/admin/inventory", order=25)

CONDITION_TEXT = {"confirm": "Not confirmed in time", "ship": "Not shipped in time", "tracking": "No tracking in time"}
CIRCUIT_TEXT = {
    "closed": ("ok", "Healthy"),
    "open": ("bad", "Down: orders are held"),
    "half_open": ("warn", "Recovering: trying one order"),
}


@router.get("/suppliers/health", response_class=HTMLResponse)
def supplier_health_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    context = {
        **_base_context(request, shop),
        "rows": service.suppliers(session, shop),
        "breaches": service.breaches(session, shop),
        "events": service.circuit_events(session, shop),
        "conditions": CONDITION_TEXT,
        "circuits": CIRCUIT_TEXT,
    }
    return _page(request, "dashboard/supplier_health.html", context)


@router.get("/inventory", response_class=HTMLResponse)
def inventory_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    context = {
        **_base_context(request, shop),
        "overview": service.inventory(session, shop),
        "buffer": safety_buffer(shop),
        "floor": margin_floor(shop),
    }
    return _page(request, "dashboard/inventory.html", context)
