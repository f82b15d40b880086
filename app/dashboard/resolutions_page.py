"""Merchant page: the resolution queue (problems outside policy, returns awaited, failures).

Approve (with the remedy to carry out) or deny, with a note the customer receives; photos are
served only to the shop that owns the resolution.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.dashboard import forms, nav
from app.dashboard.pages import _authenticate, _base_context, _page
from app.db import SessionDep
from app.errors import Unauthorized
from app.orders.models import Order
from app.resolutions import policy as policies
from app.resolutions import service, uploads
from app.resolutions.models import Resolution

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("resolutions", "Resolutions", "/admin/resolutions", order=40)
ResolutionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
REASON_TEXT = {
    "not_received": "Not received", "damaged": "Damaged", "not_as_described": "Not as described",
    "wrong_item": "Wrong item", "changed_mind": "Changed mind",
}
REMEDY_TEXT = {
    "reship": "Reship", "partial_refund": "Partial refund", "store_credit": "Store credit (issue it in the admin)",
    "full_refund": "Full refund", "return_first": "Return first",
}
STATUS_TEXT = {"pending_review": "Needs your decision", "awaiting_return": "Waiting for the return",
               "failed": "Failed – try again"}


def _owned(session, shop_id: int, resolution_id: int) -> Resolution | None:
    resolution = session.get(Resolution, resolution_id)
    # Another shop's resolution looks exactly like a missing one.
    return resolution if resolution is not None and resolution.shop_id == shop_id else None


@router.get("/resolutions", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    rows = [(r, session.get(Order, r.order_id)) for r in service.queue(session, shop.id)]
    context = {
        **_base_context(request, shop),
        "rows": rows,
        "reasons": REASON_TEXT,
        "remedies": REMEDY_TEXT,
        "statuses": STATUS_TEXT,
        "choosable": [r for r in policies.REMEDIES if r != "return_first"],
        "policy": policies.for_shop(shop),
        "all_remedies": policies.REMEDIES,
        "token": request.query_params.get("id_token", ""),
        "notice": request.query_params.get("notice", "")[:300],
    }
    return _page(request, "dashboard/resolutions.html", context)


@router.get("/resolutions/{resolution_id}/photos/{name}", response_model=None)
def photo(request: Request, session: SessionDep, resolution_id: ResolutionId,
          name: Annotated[str, Path(max_length=64)]) -> Response:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    resolution = _owned(session, shop.id, resolution_id)
    listed = resolution is not None and any(p.get("name") == name for p in resolution.photos)
    target = uploads.path_of(shop.id, name) if listed else None
    if target is None:
        return Response("photo not found", status_code=404, media_type="text/plain")
    kind = next(p["type"] for p in resolution.photos if p["name"] == name)
    return FileResponse(target, media_type=kind, headers={"Cache-Control": "private, no-store",
                                                          "X-Content-Type-Options": "nosniff"})


def _done(domain: str, token: str, notice: str) -> RedirectResponse:
    query = urlencode({"id_token": token, "shop": domain, "notice": notice})
    return RedirectResponse(f"/admin/resolutions?{query}", status_code=303)


@router.post("/resolutions/{resolution_id}/decide", response_model=None)
def decide(request: Request, session: SessionDep, resolution_id: ResolutionId,
           id_token: Annotated[str, Form(max_length=4096)] = "",
           decision: Annotated[str, Form(max_length=16)] = "",
           remedy: Annotated[str, Form(max_length=32)] = "",
           note: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse | RedirectResponse:
    forms.check_same_origin(request)
    try:
        shop = forms.shop_for_post(request, session, id_token)
    except Unauthorized as error:
        context = {**_base_context(request, None), "reason": error.message, "reopen_url": ""}
        return _page(request, "dashboard/unauthorized.html", context, status_code=401)
    resolution = _owned(session, shop.id, resolution_id)
    if resolution is None:
        context = {**_base_context(request, shop), "order_id": resolution_id}
        return _page(request, "dashboard/not_found.html", context, status_code=404)
    if decision not in ("approve", "deny"):
        return _done(shop.domain, id_token, "Choose approve or deny.")
    try:
        service.decide(session, shop, resolution, approve=decision == "approve", remedy=remedy or None, note=note)
    except service.ResolutionError:
        session.rollback()
        return _done(shop.domain, id_token, "This request was already decided or the remedy is not possible.")
    session.commit()
    order = session.get(Order, resolution.order_id)
    verb = "Approved" if decision == "approve" else "Denied"
    return _done(shop.domain, id_token, f"{verb}: {order.name}. The customer has been emailed.")
