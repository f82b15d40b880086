"""Merchant page: orders waiting for the merchant (policy review, address, unmapped products,
AliExpress orders to reconcile, no supplier left) and what can be done about each."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.dashboard import forms
from app.dashboard import suppliers_service as service
from app.dashboard.pages import _authenticate, _base_context, _page
from app.db import SessionDep
from app.errors import Unauthorized
from app.orders.models import Order
from app.shops.models import Shop
from app.suppliers import ordering, reconcile

router = APIRouter(prefix="/admin", include_in_schema=False)
FlagId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# Which flags "release" answers: the merchant fixed the cause (or approves) and orders now.
RELEASABLE = ordering.HOLDING


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, session: SessionDep) -> HTMLResponse:
    shop = _authenticate(request, session)
    if isinstance(shop, HTMLResponse):
        return shop
    context = {
        **_base_context(request, shop),
        "rows": service.open_flags(session, shop.id),
        "titles": service.FLAG_TITLES,
        "releasable": RELEASABLE,
        "token": request.query_params.get("id_token", ""),
        "notice": request.query_params.get("notice", "")[:300],
    }
    return _page(request, "dashboard/review.html", context)


def _done(shop: Shop, token: str, notice: str) -> RedirectResponse:
    query = urlencode({"id_token": token, "shop": shop.domain, "notice": notice})
    return RedirectResponse(f"/admin/review?{query}", status_code=303)


def _post(request: Request, session, token: str, flag_id: int):
    """(shop, flag) for a merchant post, or the page to answer with instead."""
    forms.check_same_origin(request)
    try:
        shop = forms.shop_for_post(request, session, token)
    except Unauthorized as error:
        context = {**_base_context(request, None), "reason": error.message, "reopen_url": ""}
        return None, _page(request, "dashboard/unauthorized.html", context, status_code=401)
    flag = service.flag_for_shop(session, shop.id, flag_id)
    if flag is None:  # another shop's flag looks exactly like a missing one
        context = {**_base_context(request, shop), "order_id": flag_id}
        return None, _page(request, "dashboard/not_found.html", context, status_code=404)
    return (shop, flag), None


@router.post("/review/{flag_id}/release", response_model=None)
def release(request: Request, session: SessionDep, flag_id: FlagId,
            id_token: Annotated[str, Form(max_length=4096)] = "") -> HTMLResponse | RedirectResponse:
    found, answer = _post(request, session, id_token, flag_id)
    if answer:
        return answer
    shop, flag = found
    if flag.kind not in RELEASABLE:
        return _done(shop, id_token, "This order cannot be released from here.")
    planned = ordering.release(session, session.get(Order, flag.order_id), by="merchant")
    session.commit()
    still = [f.kind for f in ordering.open_flags(session, flag.order_id) if f.kind in RELEASABLE]
    notice = (f"Sent to {len(planned)} supplier order(s)." if not still
              else "Still held: " + ", ".join(service.FLAG_TITLES.get(kind, kind) for kind in still) + ".")
    return _done(shop, id_token, notice)


@router.post("/review/{flag_id}/adopt", response_model=None)
def adopt(request: Request, session: SessionDep, flag_id: FlagId,
          id_token: Annotated[str, Form(max_length=4096)] = "",
          external_ids: Annotated[str, Form(max_length=200)] = "") -> HTMLResponse | RedirectResponse:
    found, answer = _post(request, session, id_token, flag_id)
    if answer:
        return answer
    shop, flag = found
    supplier_order_id = (flag.data or {}).get("supplier_order_id")
    if flag.kind != "reconcile" or not supplier_order_id:
        return _done(shop, id_token, "Nothing to reconcile for this order.")
    session.rollback()  # adopt runs its own transactions around the supplier call
    try:
        status = reconcile.adopt(int(supplier_order_id), reconcile.parse_ids(external_ids))
    except reconcile.ReconcileError as error:
        return _done(shop, id_token, error.message)
    return _done(shop, id_token, f"Supplier order adopted ({status}).")


@router.post("/review/{flag_id}/resend", response_model=None)
def resend(request: Request, session: SessionDep, flag_id: FlagId,
           id_token: Annotated[str, Form(max_length=4096)] = "") -> HTMLResponse | RedirectResponse:
    found, answer = _post(request, session, id_token, flag_id)
    if answer:
        return answer
    shop, flag = found
    supplier_order_id = (flag.data or {}).get("supplier_order_id")
    if flag.kind != "reconcile" or not supplier_order_id:
        return _done(shop, id_token, "Nothing to reconcile for this order.")
    try:
        reconcile.resend(session, int(supplier_order_id), shop.id)
    except reconcile.ReconcileError as error:
        return _done(shop, id_token, error.message)
    session.commit()
    return _done(shop, id_token, "The order will be sent to the supplier again.")


@router.post("/review/{flag_id}/dismiss", response_model=None)
def dismiss(request: Request, session: SessionDep, flag_id: FlagId,
            id_token: Annotated[str, Form(max_length=4096)] = "") -> HTMLResponse | RedirectResponse:
    found, answer = _post(request, session, id_token, flag_id)
    if answer:
        return answer
    shop, flag = found
    if flag.kind != "awaiting_customer_choice":
        return _done(shop, id_token, "Only a no-supplier-left notice can be dismissed.")
    ordering.resolve_flag(session, shop, session.get(Order, flag.order_id), flag.kind, "handled by merchant")
    session.commit()
    return _done(shop, id_token, "Marked as handled.")
