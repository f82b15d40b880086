"""Report a problem from the order-status page: the form, the policy's offer, the acceptance.

The signed status token is the customer's credential here too. Uploads are parsed with limits
(count, size, type by magic bytes, names without path tricks) before anything is stored; a refused
upload answers 400/413 with the reason in the customer's language and stores nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from app.db import SessionDep, session_scope
from app.resolutions import policy as policies
from app.resolutions import service, uploads
from app.resolutions.models import Resolution
from app.status import service as status
from app.status.pages import _HEADERS, LangQuery, _locale, _not_found, _visitor
from app.templating import format_date, format_money, page_templates, translator

router = APIRouter(prefix="/status", include_in_schema=False)
MAX_MESSAGE = 4000


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return page_templates().TemplateResponse(request, name, context, status_code=status_code, headers=_HEADERS)


def _form_context(located: status.Located, token: str, locale: str, **extra) -> dict:
    return {
        "locale": locale,
        "t": translator(locale),
        "token": token,
        "order_name": located.order.name,
        "shop_name": located.shop.name or located.shop.domain,
        "reasons": policies.REASONS,
        "max_files": uploads.MAX_FILES,
        "error": None,
        "reason": "",
        "message": "",
        **extra,
    }


@router.get("/{token}/problem", response_class=HTMLResponse)
def problem_form(token: str, request: Request, session: SessionDep, lang: LangQuery = None) -> HTMLResponse:
    located = status.locate(session, token)
    if located is None:
        return _not_found(request, lang)
    locale = _locale(lang, located.order.locale)
    return _page(request, "status/problem.html", _form_context(located, token, locale))


def _submit(token: str, locale: str, reason: str, message: str, files: list[tuple[str | None, bytes]],
            ip: str | None, user_agent: str | None) -> tuple[str, int | str | service.ResolutionError]:
    """("ok", resolution id) | ("error", i18n key or the policy's refusal) | ("missing", "")."""
    with session_scope() as session:
        located = status.locate(session, token)
        if located is None:
            return "missing", ""
        if reason not in policies.REASONS:
            return "error", "resolution.bad_reason"
        if len(files) > uploads.MAX_FILES:
            return "error", "upload.too_many"
        try:
            photos = [uploads.check(name, data) for name, data in files]
        except uploads.UploadRejected as rejected:
            return "error", rejected.code
        try:  # judged before anything is stored: a refused claim keeps no photo
            service.assess(session, located.shop, located.order, reason, photos=len(photos))
        except service.ResolutionError as refused:
            return "error", refused
        stored = uploads.store(located.shop.id, photos)
        resolution = service.report(
            session, located.shop, located.order, reason=reason, message=message[:MAX_MESSAGE],
            photos=stored, photo_names=[p.original_name for p in photos], locale=locale, ip=ip,
            user_agent=user_agent,
        )
        return "ok", resolution.id


@router.post("/{token}/problem", response_class=HTMLResponse, response_model=None)
async def report_problem(token: str, request: Request, lang: LangQuery = None) -> HTMLResponse | RedirectResponse:
    # async: the multipart body is parsed here with limits; the database work runs in a thread.
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > uploads.MAX_REQUEST_BYTES:
        return await run_in_threadpool(_refused, request, token, lang, "upload.too_large", 413, "", "")
    try:
        # A few files over the limit are parsed (the total size is capped above) so that the
        # refusal can keep the customer's message; far more is refused outright.
        form = await request.form(max_files=uploads.MAX_FILES * 4, max_fields=20)
    except (MultiPartException, HTTPException):  # Starlette reports its limits as a 400 HTTPException
        return await run_in_threadpool(_refused, request, token, lang, "upload.too_many", 400, "", "")
    reason = str(form.get("reason") or "")
    message = str(form.get("message") or "")
    files = []
    for item in form.getlist("photos"):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            data = await item.read(uploads.MAX_BYTES + 1)
            if item.filename or data:
                files.append((item.filename, data))
    ip, user_agent = _visitor(request)
    locale_hint = lang
    outcome, value = await run_in_threadpool(
        _submit_with_locale, token, locale_hint, reason, message, files, ip, user_agent
    )
    if outcome == "missing":
        return await run_in_threadpool(_not_found, request, lang)
    if outcome == "error":
        code = 413 if value == "upload.too_large" else 400
        return await run_in_threadpool(_refused, request, token, lang, value, code, reason, message)
    suffix = f"?lang={lang}" if lang else ""
    return RedirectResponse(f"/status/{token}/problem/{value}{suffix}", status_code=303, headers=_HEADERS)


def _submit_with_locale(token, lang, reason, message, files, ip, user_agent):
    with session_scope() as session:
        located = status.locate(session, token)
        locale = _locale(lang, located.order.locale) if located else "en"
    return _submit(token, locale, reason, message, files, ip, user_agent)


def _refused(request: Request, token: str, lang: str | None, code: str | service.ResolutionError, status_code: int,
             reason: str, message: str) -> HTMLResponse:
    with session_scope() as session:
        located = status.locate(session, token)
        if located is None:
            return _not_found(request, lang)
        locale = _locale(lang, located.order.locale)
        t = translator(locale)
        available_from = code.available_from if isinstance(code, service.ResolutionError) else None
        error = t(str(code), size=uploads.MAX_BYTES // (1024 * 1024), count=uploads.MAX_FILES,
                  not_received=t("reason.not_received"),
                  date=format_date(available_from, locale) if available_from else "")
        context = _form_context(located, token, locale, error=error, reason=reason, message=message)
        return _page(request, "status/problem.html", context, status_code=status_code)


def _load(session, token: str, resolution_id: int) -> tuple[status.Located, Resolution] | None:
    located = status.locate(session, token)
    if located is None:
        return None
    resolution = session.get(Resolution, resolution_id)
    if resolution is None or resolution.order_id != located.order.id:
        return None
    return located, resolution


@router.get("/{token}/problem/{resolution_id}", response_class=HTMLResponse)
def resolution_page(token: str, resolution_id: int, request: Request, session: SessionDep,
                    lang: LangQuery = None) -> HTMLResponse:
    loaded = _load(session, token, resolution_id)
    if loaded is None:
        return _not_found(request, lang)
    located, resolution = loaded
    locale = _locale(lang, resolution.locale)
    policy = policies.for_shop(located.shop)
    offers = [
        {**offer, "amount_text": format_money(offer["amount"], resolution.currency, locale) if offer["amount"] else ""}
        for offer in resolution.offers
    ]
    context = _form_context(
        located, token, locale, resolution=resolution, offers=offers,
        policy_text=policies.text(policy, resolution.reason, locale, located.shop.currency),
        reopened=resolution.status == "offered" and any(o.get("after") for o in resolution.offers),
        amount_text=format_money(resolution.amount, resolution.currency, locale) if resolution.amount else "",
    )
    return _page(request, "status/resolution.html", context)


@router.post("/{token}/problem/{resolution_id}/accept", response_class=HTMLResponse, response_model=None)
def accept_offer(token: str, resolution_id: int, request: Request, session: SessionDep,
                 remedy: Annotated[str, Form(max_length=32)] = "", lang: LangQuery = None,
                 ) -> HTMLResponse | RedirectResponse:
    loaded = _load(session, token, resolution_id)
    if loaded is None:
        return _not_found(request, lang)
    located, resolution = loaded
    ip, user_agent = _visitor(request)
    try:
        if remedy == "ask_shop":
            service.ask_shop(session, located.shop, located.order, resolution)
        else:
            service.accept(session, located.shop, located.order, resolution, remedy=remedy, ip=ip,
                           user_agent=user_agent)
    except service.ResolutionError:
        session.rollback()
    else:
        session.commit()
    suffix = f"?lang={lang}" if lang else ""
    return RedirectResponse(f"/status/{token}/problem/{resolution_id}{suffix}", status_code=303, headers=_HEADERS)
