"""The merchant's settings page: policies, languages, supplier SLAs and automation switches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.db import SessionDep
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.web import nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("settings", "Settings", "/admin/settings", order=60)

# Where each settings value comes from in the form (errors are shown next to that field).
_FIELDS = {
    ("policies", "refund_policy"): "refund_policy",
    ("policies", "return_policy"): "return_policy",
    ("policies", "refund_window_days"): "refund_window_days",
    ("policies", "return_window_days"): "return_window_days",
    ("notifications", "languages"): "languages",
    ("notifications", "quiet_hours", "start_hour"): "quiet_start_hour",
    ("notifications", "quiet_hours", "end_hour"): "quiet_end_hour",
    ("supplier_sla", "confirm_hours"): "sla_confirm_hours",
    ("supplier_sla", "ship_days"): "sla_ship_days",
    ("supplier_sla", "tracking_days"): "sla_tracking_days",
    ("ordering", "risk_threshold"): "risk_score",
    ("ordering", "policy"): "auto_order",
}
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español", "de": "Deutsch"}


def _values(current: shop_settings.ShopSettings) -> dict[str, Any]:
    """The form's values from stored settings."""
    return {
        "refund_policy": current.policies.refund_policy,
        "return_policy": current.policies.return_policy,
        "refund_window_days": current.policies.refund_window_days,
        "return_window_days": current.policies.return_window_days,
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
    }


def _settings_from(values: dict[str, Any]) -> dict[str, Any]:
    """The settings document a submitted form asks for (validated by the caller)."""
    try:
        threshold: Any = float(values["risk_score"]) / 100
    except (TypeError, ValueError):
        threshold = values["risk_score"]
    policy = "manual" if not values["auto_order"] else ("review" if values["hold_above_risk"] else "auto")
    return {
        "policies": {
            k: values[k]
            for k in ("refund_policy", "return_policy", "refund_window_days", "return_window_days")
        },
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
    }


def _errors(error: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"])
        field = next((name for path, name in _FIELDS.items() if loc[: len(path)] == path), "form")
        found.setdefault(field, item["msg"])
    return found


def _render(request: Request, shop: Shop, values: dict[str, Any], *, token: str, errors=None, saved=False,
            status_code=200) -> HTMLResponse:
    context = {"values": values, "errors": errors or {}, "saved": saved, "languages": LANGUAGE_NAMES,
               "hours": range(24)}
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
    refund_policy: Annotated[str, Form()] = "",
    return_policy: Annotated[str, Form()] = "",
    refund_window_days: Annotated[str, Form()] = "",
    return_window_days: Annotated[str, Form()] = "",
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
) -> HTMLResponse | RedirectResponse:
    shop = post.shop
    values = {
        "refund_policy": refund_policy.replace("\r\n", "\n"),
        "return_policy": return_policy.replace("\r\n", "\n"),
        "refund_window_days": refund_window_days,
        "return_window_days": return_window_days,
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
    }
    try:
        new = shop_settings.ShopSettings.model_validate(_settings_from(values))
    except ValidationError as error:
        # Nothing is saved; the form comes back with the merchant's input and the reasons.
        return _render(request, shop, values, token=post.token, errors=_errors(error), status_code=422)
    shop_settings.save(session, shop, new)
    session.commit()
    return redirect_back("/admin/settings", shop, post.token, saved="1")
