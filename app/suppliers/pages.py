"""Merchant pages: suppliers (what each holds and how it is doing) and product mapping (the
mappings, the variants no supplier fills yet, CSV upload with its per-row report)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from app.db import SessionDep
from app.suppliers import mapping, overview
from app.suppliers.page_text import TEXT
from app.web import nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("suppliers", "nav.suppliers", "/admin/suppliers", order=20, group="suppliers")
nav.register("mapping", "nav.mapping", "/admin/mapping", order=21, group="suppliers")


@router.get("/suppliers", response_class=HTMLResponse)
def suppliers_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = {**localised(request, shop, TEXT), "rows": overview.suppliers(session, shop.id)}
    return render(request, "suppliers/suppliers.html", shop, context)


@router.get("/mapping", response_class=HTMLResponse)
def mapping_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = {
        **localised(request, shop, TEXT),
        "rows": overview.mappings(session, shop.id),
        "unmapped": overview.unmapped(session, shop.id),
        "imports": overview.imports(session, shop.id),
        "columns": mapping.COLUMNS,
    }
    return render(request, "suppliers/mapping.html", shop, context)


@router.post("/mapping/import", response_model=None)
def import_mapping(session: SessionDep, post: MerchantPost, file: Annotated[UploadFile, File()]) -> RedirectResponse:
    # One byte over the limit is enough for import_csv to refuse the file with its reason.
    data = file.file.read(mapping.MAX_BYTES + 1)
    report = mapping.import_csv(session, post.shop, data, filename=file.filename or "upload.csv")
    session.commit()
    return redirect_back("/admin/mapping", post.shop, post.token, **{"import": str(report.import_id)})
