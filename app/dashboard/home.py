"""Home (/admin): what needs the merchant today — the items the domains registered in
app/web/attention.py, each a count with a link — and the setup guide of a new shop
(app/dashboard/setup.py), ticked from the shop's real state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.dashboard import setup
from app.db import SessionDep
from app.web import attention
from app.web.auth import MerchantShop
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def home_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    steps = setup.steps(session, shop)
    context = {
        "waiting": attention.waiting(session, shop),
        "steps": steps,
        "steps_done": sum(1 for step in steps if step.done),
    }
    return render(request, "dashboard/home.html", shop, context)
