"""Privacy requests from the store (data requests, redactions) and the data exports to download."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.dashboard.pages import _authenticate, _base_context, _headers, _page
from app.db import SessionDep
from app.privacy import service as privacy

router = APIRouter(prefix="/admin", include_in_schema=False)

KIND_LABELS = {"customer_data_request": "Data request", "customer_redact": "Erasure"}


@router.get("/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    requests = privacy.requests_for_shop(session, shop)
    context = {
        **_base_context(request, shop),
        "requests": requests,
        "held": [r for r in requests if r.status == "held"],
        "kinds": KIND_LABELS,
        "retention_days": privacy.EXPORT_RETENTION_DAYS,
    }
    return _page(request, "dashboard/privacy.html", context)


@router.get("/privacy/exports/{request_id}", response_model=None)
def download_export(
    request: Request, session: SessionDep, request_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> Response:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    found = privacy.export_for_shop(session, shop, request_id)
    headers = _headers(shop.domain)
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
