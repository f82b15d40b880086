"""Privacy requests from the store (data requests, redactions) and the data exports to download."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.db import SessionDep
from app.privacy import service as privacy
from app.privacy.page_text import TEXT
from app.web import nav
from app.web.auth import MerchantShop
from app.web.phrases import localised
from app.web.rendering import page_headers, render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("privacy", "nav.privacy", "/admin/privacy", order=50, group="settings")

KIND_LABELS = {"customer_data_request": "Data request", "customer_redact": "Erasure"}


@router.get("/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    requests = privacy.requests_for_shop(session, shop)
    context = {
        **localised(request, shop, TEXT),
        "requests": requests,
        "held": [r for r in requests if r.status == "held"],
        "kinds": KIND_LABELS,
        "retention_days": privacy.EXPORT_RETENTION_DAYS,
    }
    return render(request, "privacy/requests.html", shop, context)


@router.get("/privacy/exports/{request_id}", response_model=None)
def download_export(
    session: SessionDep, shop: MerchantShop, request_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> Response:
    found = privacy.export_for_shop(session, shop, request_id)
    headers = page_headers(shop.domain)
    if found is None:
        # Another shop's export answers exactly like one that does not exist.
        return JSONResponse(
            {"error": "not_found", "detail": "no such data export"}, status_code=404, headers=headers
        )
    if found.export is None:
        return JSONResponse(
            {"error": "gone", "detail": found.reason or "the export is no longer kept"},
            status_code=410,
            headers=headers,
        )
    body = json.dumps(found.export, ensure_ascii=False, indent=2, sort_keys=True).encode()
    headers["Content-Disposition"] = f'attachment; filename="customer-data-request-{found.id}.json"'
    return Response(body, media_type="application/json", headers=headers)
