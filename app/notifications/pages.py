"""Merchant page: notification templates per stage and language, with a live preview.

The preview renders the draft with a sample order and sends nothing; saving validates the draft
in the sandboxed environment first (a broken template is refused with the reason, never stored).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import delete, select
from sqlalchemy.orm.attributes import flag_modified

from app.dashboard import setup
from app.db import SessionDep
from app.errors import Unauthorized
from app.evidence import service as evidence
from app.notifications import channels, custom, preview
from app.notifications.models import NotificationTemplate
from app.notifications.stages import STAGES
from app.shops.models import Shop
from app.templating import LOCALES
from app.web import forms, nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("notifications", "nav.notifications", "/admin/notifications", order=45, group="customers")
Text = Annotated[str, Form(max_length=custom.MAX_BODY + 100)]
Token = Annotated[str, Form(max_length=4096)]


def _pick(stage: str | None, locale: str | None) -> tuple[str, str]:
    return (stage if stage in STAGES else STAGES[0]), (locale if locale in LOCALES else LOCALES[0])


@router.get("/notifications", response_class=HTMLResponse)
def templates_page(request: Request, session: SessionDep, shop: MerchantShop, stage: str | None = None,
                   locale: str | None = None) -> HTMLResponse:
    stage, locale = _pick(stage, locale)
    setup.mark_seen(session, shop, "messages")  # Home's setup guide: the messages were previewed
    session.commit()
    overrides = {(t.stage, t.locale): t for t in session.scalars(
        select(NotificationTemplate).where(NotificationTemplate.shop_id == shop.id))}
    current = overrides.get((stage, locale))
    rendered = preview.render_preview(shop, stage, locale, subject=current.subject if current else None,
                                      body=current.body if current else None)
    context = {
        "stages": STAGES, "locales": LOCALES, "stage": stage, "edit_locale": locale,
        "overrides": overrides, "current": current, "variables": custom.VARIABLES,
        "preview": rendered, "sms_on": channels.sms_enabled(shop),
    }
    return render(request, "notifications/templates.html", shop, context)


@router.post("/notifications/preview", response_model=None)
def preview_draft(request: Request, session: SessionDep, id_token: Token = "", stage: str = Form(""),
                  locale: str = Form(""), subject: Text = "", body: Text = "") -> JSONResponse:
    # Called by the page's script: it answers JSON (also when signed out), not the sign-in page.
    forms.check_same_origin(request)
    try:
        shop = forms.shop_for_post(request, session, id_token)
    except Unauthorized as error:
        return JSONResponse({"error": error.message}, status_code=401)
    if stage not in STAGES or locale not in LOCALES:
        return JSONResponse({"error": "unknown stage or language"}, status_code=400)
    try:
        rendered = preview.render_preview(shop, stage, locale, subject=subject, body=body)
    except custom.TemplateInvalid as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"subject": rendered.subject, "text": rendered.text, "html": rendered.html})


def _done(shop: Shop, token: str, stage: str, locale: str, notice: str) -> RedirectResponse:
    return redirect_back("/admin/notifications", shop, token, stage=stage, locale=locale, notice=notice)


def _record(session, shop, kind: str, data: dict) -> None:
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=None, kind=kind, source="merchant",
                    data=data)


@router.post("/notifications/templates", response_model=None)
def save_template(session: SessionDep, post: MerchantPost, stage: str = Form(""),
                  locale: str = Form(""), subject: Text = "", body: Text = "",
                  action: str = Form("save")) -> RedirectResponse | JSONResponse:
    shop, id_token = post.shop, post.token
    if stage not in STAGES or locale not in LOCALES:
        return JSONResponse({"error": "unknown stage or language"}, status_code=400)
    if action == "reset":
        session.execute(delete(NotificationTemplate).where(
            NotificationTemplate.shop_id == shop.id, NotificationTemplate.stage == stage,
            NotificationTemplate.locale == locale))
        _record(session, shop, "notification_template.reset", {"stage": stage, "locale": locale})
        session.commit()
        return _done(shop, id_token, stage, locale, "Back to the built-in wording.")
    try:
        custom.validate(subject, body, custom.variables(preview.sample_context(shop, stage, locale)))
    except custom.TemplateInvalid as error:
        return _done(shop, id_token, stage, locale, f"Not saved: {error}")
    current = custom.override_for(session, shop.id, stage, locale)
    if current is None:
        current = NotificationTemplate(shop_id=shop.id, stage=stage, locale=locale, subject=subject, body=body)
        session.add(current)
    current.subject, current.body = subject.strip(), body.strip()
    session.flush()
    _record(session, shop, "notification_template.saved", {
        "stage": stage, "locale": locale, "template_id": current.id,
        "subject_digest": hashlib.sha256(current.subject.encode()).hexdigest(),
        "body_digest": hashlib.sha256(current.body.encode()).hexdigest(),
    })
    session.commit()
    return _done(shop, id_token, stage, locale, "Saved: the next messages use your wording.")


@router.post("/notifications/sms", response_model=None)
def toggle_sms(session: SessionDep, post: MerchantPost,
               enabled: Annotated[str, Form(max_length=8)] = "") -> RedirectResponse:
    shop, id_token = post.shop, post.token
    on = enabled == "on"
    current = dict((shop.settings or {}).get("notifications") or {})
    shop.settings = {**(shop.settings or {}), "notifications": {**current, "sms": on}}
    flag_modified(shop, "settings")
    _record(session, shop, "notification_settings.saved", {"sms": on})
    session.commit()
    notice = "SMS updates on: customers with a phone number also get a text." if on else "SMS updates off."
    return _done(shop, id_token, STAGES[0], LOCALES[0], notice)
