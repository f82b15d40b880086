"""Merchant page: orders waiting for the merchant (policy review, address, unmapped products,
AliExpress orders to reconcile, no supplier left) and what can be done about each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.dashboard import held_fix
from app.db import SessionDep
from app.orders.models import Order
from app.shops.models import Shop
from app.suppliers import attention as _attention  # noqa: F401 - registers its items on Home
from app.suppliers import ordering, overview, reconcile
from app.suppliers.page_text import TEXT
from app.suppliers.tables import OrderFlag
from app.web import nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.errors import PageNotFound
from app.web.forms import redirect_back
from app.web.phrases import localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("review", "nav.review", "/admin/review", order=15, group="orders")
FlagId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# Which flags "release" answers: the merchant fixed the cause (or approves) and orders now.
RELEASABLE = ordering.HOLDING


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = {**localised(request, shop, TEXT), "rows": overview.open_flags(session, shop.id),
               "titles": overview.FLAG_TITLES, "releasable": RELEASABLE}
    return render(request, "suppliers/review.html", shop, context)


def _done(shop: Shop, token: str, notice: str) -> RedirectResponse:
    return redirect_back("/admin/review", shop, token, notice=notice)


def _flag(session: Session, shop: Shop, flag_id: int) -> OrderFlag:
    flag = overview.flag_for_shop(session, shop.id, flag_id)
    if flag is None:  # another shop's flag looks exactly like a missing one
        raise PageNotFound("order", flag_id)
    return flag


@router.post("/review/{flag_id}/release", response_model=None)
def release(session: SessionDep, post: MerchantPost, flag_id: FlagId) -> RedirectResponse:
    flag = _flag(session, post.shop, flag_id)
    if flag.kind not in RELEASABLE:
        return _done(post.shop, post.token, "This order cannot be released from here.")
    if flag.kind == "address":
        # The order page's fix path: the address is checked again (corrected in the store admin, it
        # came back with orders/updated); still wrong, the merchant edits it on the order page.
        order = session.get(Order, flag.order_id)
        outcome = held_fix.order_now(session, post.shop, order)
        session.commit()
        if not outcome.ok:
            return redirect_back(f"/admin/orders/{order.id}", post.shop, post.token, fragment="fix",
                                 notice=outcome.message)
        return _done(post.shop, post.token, outcome.message)
    planned = ordering.release(session, session.get(Order, flag.order_id), by="merchant")
    session.commit()
    still = [f.kind for f in ordering.open_flags(session, flag.order_id) if f.kind in RELEASABLE]
    notice = (f"Sent to {len(planned)} supplier order(s)." if not still
              else "Still held: " + ", ".join(overview.FLAG_TITLES.get(kind, kind) for kind in still) + ".")
    return _done(post.shop, post.token, notice)


@router.post("/review/{flag_id}/adopt", response_model=None)
def adopt(session: SessionDep, post: MerchantPost, flag_id: FlagId,
          external_ids: Annotated[str, Form(max_length=200)] = "") -> RedirectResponse:
    flag = _flag(session, post.shop, flag_id)
    supplier_order_id = (flag.data or {}).get("supplier_order_id")
    if flag.kind != "reconcile" or not supplier_order_id:
        return _done(post.shop, post.token, "Nothing to reconcile for this order.")
    session.rollback()  # adopt runs its own transactions around the supplier call
    try:
        status = reconcile.adopt(int(supplier_order_id), reconcile.parse_ids(external_ids))
    except reconcile.ReconcileError as error:
        return _done(post.shop, post.token, error.message)
    return _done(post.shop, post.token, f"Supplier order adopted ({status}).")


@router.post("/review/{flag_id}/resend", response_model=None)
def resend(session: SessionDep, post: MerchantPost, flag_id: FlagId) -> RedirectResponse:
    flag = _flag(session, post.shop, flag_id)
    supplier_order_id = (flag.data or {}).get("supplier_order_id")
    if flag.kind != "reconcile" or not supplier_order_id:
        return _done(post.shop, post.token, "Nothing to reconcile for this order.")
    try:
        reconcile.resend(session, int(supplier_order_id), post.shop.id)
    except reconcile.ReconcileError as error:
        return _done(post.shop, post.token, error.message)
    session.commit()
    return _done(post.shop, post.token, "The order will be sent to the supplier again.")


@router.post("/review/{flag_id}/dismiss", response_model=None)
def dismiss(session: SessionDep, post: MerchantPost, flag_id: FlagId) -> RedirectResponse:
    flag = _flag(session, post.shop, flag_id)
    if flag.kind != "awaiting_customer_choice":
        return _done(post.shop, post.token, "Only a no-supplier-left notice can be dismissed.")
    ordering.resolve_flag(session, post.shop, session.get(Order, flag.order_id), flag.kind, "handled by merchant")
    session.commit()
    return _done(post.shop, post.token, "Marked as handled.")
