"""Merchant page: how the shop's messages and status page look (app.notifications.branding)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.db import SessionDep
from app.notifications import branding
from app.notifications.page_text import TEXT
from app.shops.models import Shop
from app.templating import LOCALES, translator
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.phrases import locale_of, localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
Line = Annotated[str, Form(max_length=1100)]
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español", "de": "Deutsch"}


def _values(saved: branding.Branding) -> dict[str, Any]:
    return {"display_name": saved.display_name, "reply_to": saved.reply_to, "logo_url": saved.logo_url,
            "colour": saved.colour, **{f"warehouse_{code}": saved.warehouse.get(code, "") for code in LOCALES}}


def _render(request: Request, shop: Shop, values: dict[str, Any], *, token: str | None = None,
            errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    context = {
        **localised(request, shop, TEXT), "values": values, "errors": errors or {},
        "languages": LANGUAGE_NAMES, "sender": branding.sender(shop),
        "defaults": {code: translator(code)("wording.warehouse") for code in LOCALES},
    }
    return render(request, "notifications/branding.html", shop, context, token=token, status_code=status_code)


@router.get("/notifications/branding", response_class=HTMLResponse)
def branding_page(request: Request, shop: MerchantShop) -> HTMLResponse:
    return _render(request, shop, _values(branding.load(shop)))


@router.post("/notifications/branding", response_class=HTMLResponse, response_model=None)
def save_branding(
    request: Request, session: SessionDep, post: MerchantPost, display_name: Line = "", reply_to: Line = "",
    logo_url: Line = "", colour: Line = branding.DEFAULT_COLOUR, warehouse_en: Line = "", warehouse_fr: Line = "",
    warehouse_es: Line = "", warehouse_de: Line = "",
) -> HTMLResponse | RedirectResponse:
    values = {"display_name": display_name, "reply_to": reply_to, "logo_url": logo_url, "colour": colour,
              "warehouse_en": warehouse_en, "warehouse_fr": warehouse_fr, "warehouse_es": warehouse_es,
              "warehouse_de": warehouse_de}
    try:
        new = branding.Branding(
            display_name=display_name, reply_to=reply_to, logo_url=logo_url.strip(), colour=colour.strip(),
            warehouse={"en": warehouse_en, "fr": warehouse_fr, "es": warehouse_es, "de": warehouse_de},
        )
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "form"
            field = "warehouse_en" if field == "warehouse" else field
            errors.setdefault(field, str(item["msg"]).removeprefix("Value error, "))
        return _render(request, post.shop, values, token=post.token, errors=errors, status_code=422)
    branding.save(session, post.shop, new)
    session.commit()
    return redirect_back("/admin/notifications/branding", post.shop, post.token,
                         notice=TEXT.text(locale_of(request), "saved"))
