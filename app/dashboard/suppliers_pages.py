"""Merchant pages: suppliers (what each holds and how it is doing) and product mapping (the
mappings, the variants no supplier fills yet, CSV upload with its per-row report)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from app.dashboard import forms, nav
from app.dashboard import suppliers_service as service
from app.dashboard.pages import _authenticate, _base_context, _page
from app.db import SessionDep
from app.errors import Unauthorized
from app.suppliers import mapping

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("suppliers", "Suppliers", "/admin/suppliers", order=20, prefixes=("/admin/mapping",))
nav.register("review", "Review", "/admin/review", order=15)


def _unauthorized(request: Request, error: Unauthorized) -> HTMLResponse:
    context = {**_base_context(request, None), "reason": error.message, "reopen_url": ""}
    return _page(request, "dashboard/unauthorized.html", context, status_code=401)


@router.get("/suppliers", response_class=HTMLResponse)
def suppliers_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    context = {**_base_context(request, shop), "rows": service.suppliers(session, shop.id)}
    return _page(request, "dashboard/suppliers.html", context)


@router.get("/mapping", response_class=HTMLResponse)
def mapping_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    context = {
        **_base_context(request, shop),
        "rows": service.mappings(session, shop.id),
        "unmapped": service.unmapped(session, shop.id),
        "imports": service.imports(session, shop.id),
        "token": request.query_params.get("id_token", ""),
        "columns": mapping.COLUMNS,
    }
    return _page(request, "dashboard/mapping.html", context)


@router.post("/mapping/import", response_class=HTMLResponse, response_model=None)
def import_mapping(
    request: Request,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    id_token: Annotated[str, Form(max_length=4096)] = "",
) -> HTMLResponse | RedirectResponse:
    forms.check_same_origin(request)
    try:
        shop = forms.shop_for_post(request, session, id_token)
    except Unauthorized as error:
        return _unauthorized(request, error)
    # One byte over the limit is enough for import_csv to refuse the file with its reason.
    data = file.file.read(mapping.MAX_BYTES + 1)
    report = mapping.import_csv(session, shop, data, filename=file.filename or "upload.csv")
    session.commit()
    query = urlencode({"id_token": id_token, "shop": shop.domain, "import": report.import_id})
    return RedirectResponse(f"/admin/mapping?{query}", status_code=303)
