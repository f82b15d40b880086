"""The merchant's settings page: languages and quiet hours, supplier SLAs, automation switches, the
dashboard's language — and, read-only, the resolution policy that applies (edited on its own page),
so every value shown here is the one the code applies (app/shops/settings.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.db import SessionDep
from app.resolutions import policy as policies
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.web import nav, phrases
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.page_text import TEXT
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("settings", "nav.settings", "/admin/settings", order=60, group="settings")

# Where each settings value comes from in the form (errors are shown next to that field).
_FIELDS = {
    ("notifications", "languages"): "languages",
    ("notifications", "quiet_hours", "start_hour"): "quiet_start_hour",
    ("notifications", "quiet_hours", "end_hour"): "quiet_end_hour",
    ("supplier_sla", "confirm_hours"): "sla_confirm_hours",
    ("supplier_sla", "ship_days"): "sla_ship_days",
    ("supplier_sla", "tracking_days"): "sla_tracking_days",
    ("ordering", "risk_threshold"): "risk_score",
    ("ordering", "policy"): "auto_order",
    ("dashboard", "language"): "dashboard_language",
}
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español", "de": "Deutsch"}


def _values(current: shop_settings.ShopSettings) -> dict[str, Any]:
    """The form's values from stored settings."""
    return {
        "languages": current.notifications.languages,
        "quiet_hours_enabled": current.notifications.quiet_hours.enabled,
        "quiet_start_hour": current.notifications.quiet_hours.start_hour,
        "quiet_end_hour": current.notifications.quiet_hours.end_hour,
        "sla_confirm_hours": f"{current.supplier_sla.confirm_hours:g}",
        "sla_ship_days": f"{current.supplier_sla.ship_days:g}",
        "sla_tracking_days": f"{current.supplier_sla.tracking_days:g}",
        "auto_order": current.ordering.policy != "manual",
        "hold_above_risk": current.ordering.policy == "review",
        "risk_score": f"{current.ordering.risk_threshold * 100:g}",
        "dashboard_language": current.dashboard.language or "",
    }


def _settings_from(values: dict[str, Any], current: shop_settings.ShopSettings) -> dict[str, Any]:
    """The settings document a submitted form asks for (validated by the caller)."""
    try:
        threshold: Any = float(values["risk_score"]) / 100
    except (TypeError, ValueError):
        threshold = values["risk_score"]
    policy = "manual" if not values["auto_order"] else ("review" if values["hold_above_risk"] else "auto")
    return {
        # Not on this form: kept as stored.
        "policies": current.policies.model_dump(mode="json"),
        "notifications": {
            "languages": values["languages"],
            "quiet_hours": {
                "enabled": values["quiet_hours_enabled"],
                "start_hour": values["quiet_start_hour"],
                "end_hour": values["quiet_end_hour"],
            },
        },
        "supplier_sla": {
            "confirm_hours": values["sla_confirm_hours"],
            "ship_days": values["sla_ship_days"],
            "tracking_days": values["sla_tracking_days"],
        },
        "ordering": {"policy": policy, "risk_threshold": threshold},
        "dashboard": {"language": values["dashboard_language"] or None},
    }


# Each field's label on the page (the error list names the field as the form does).
_LABELS = {
    "languages": "settings.languages", "quiet_start_hour": "settings.quiet_from", "quiet_end_hour": "settings.quiet_until",
    "sla_confirm_hours": "settings.sla.confirm", "sla_ship_days": "settings.sla.ship",
    "sla_tracking_days": "settings.sla.tracking", "risk_score": "settings.risk_score",
    "auto_order": "settings.auto_order", "dashboard_language": "settings.dashboard.language",
}
# Validation failures in the merchant's words (pydantic's error type -> phrase key, its ctx as params).
_REASONS = {
    "less_than_equal": "settings.error.at_most", "less_than": "settings.error.below",
    "greater_than_equal": "settings.error.at_least", "greater_than": "settings.error.above",
    "too_short": "settings.error.choose_one", "float_parsing": "settings.error.number",
    "int_parsing": "settings.error.whole_number", "int_from_float": "settings.error.whole_number",
    "literal_error": "settings.error.choice",
}


def _errors(error: ValidationError, locale: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"])
        field = next((name for path, name in _FIELDS.items() if loc[: len(path)] == path), "form")
        reason = _REASONS.get(item["type"])
        limit = next(iter((item.get("ctx") or {}).values()), "")
        if isinstance(limit, int | float):
            # risk_score is stored as 0–1 and shown out of 100.
            limit = f"{limit * 100:g}" if field == "risk_score" else f"{limit:g}"
        found.setdefault(field, TEXT.text(locale, reason, limit=limit) if reason else item["msg"])
    return found


def _render(request: Request, shop: Shop, values: dict[str, Any], *, token: str, errors=None, saved=False,
            status_code=200) -> HTMLResponse:
    locale = phrases.locale_of(request, shop)
    context = {
        "field_labels": {name: TEXT.text(locale, key) for name, key in _LABELS.items()},"values": values, "errors": errors or {}, "saved": saved, "languages": LANGUAGE_NAMES,
               "hours": range(24), "dashboard_languages": phrases.LANGUAGE_NAMES,
               # The resolution policy that applies, shown as it is (edited on the resolutions page).
               "resolution_policy": policies.for_shop(shop), "reasons": policies.REASONS}
    return render(request, "shops/settings.html", shop, context, token=token, status_code=status_code)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, shop: MerchantShop) -> HTMLResponse:
    saved = request.query_params.get("saved") == "1"
    token = request.query_params.get("id_token", "")
    return _render(request, shop, _values(shop_settings.load(shop)), token=token, saved=saved)


@router.post("/settings", response_class=HTMLResponse, response_model=None)
def save_settings(
    request: Request,
    session: SessionDep,
    post: MerchantPost,
    languages: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    quiet_hours_enabled: Annotated[str | None, Form()] = None,
    quiet_start_hour: Annotated[str, Form()] = "",
    quiet_end_hour: Annotated[str, Form()] = "",
    sla_confirm_hours: Annotated[str, Form()] = "",
    sla_ship_days: Annotated[str, Form()] = "",
    sla_tracking_days: Annotated[str, Form()] = "",
    auto_order: Annotated[str | None, Form()] = None,
    hold_above_risk: Annotated[str | None, Form()] = None,
    risk_score: Annotated[str, Form()] = "",
    dashboard_language: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse | RedirectResponse:
    shop = post.shop
    values = {
        "languages": languages,
        "quiet_hours_enabled": quiet_hours_enabled is not None,
        "quiet_start_hour": quiet_start_hour,
        "quiet_end_hour": quiet_end_hour,
        "sla_confirm_hours": sla_confirm_hours,
        "sla_ship_days": sla_ship_days,
        "sla_tracking_days": sla_tracking_days,
        "auto_order": auto_order is not None,
        "hold_above_risk": hold_above_risk is not None,
        "risk_score": risk_score,
        "dashboard_language": dashboard_language,
    }
    try:
        new = shop_settings.ShopSettings.model_validate(_settings_from(values, shop_settings.load(shop)))
    except ValidationError as error:
        # Nothing is saved; the form comes back with the merchant's input and the reasons.
        errors = _errors(error, phrases.locale_of(request, shop))
        return _render(request, shop, values, token=post.token, errors=errors, status_code=422)
    shop_settings.save(session, shop, new)
    session.commit()
    return redirect_back("/admin/settings", shop, post.token, saved="1", locale=request.query_params.get("locale"))
