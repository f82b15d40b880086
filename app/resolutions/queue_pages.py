"""Merchant page: the resolution queue (problems outside policy, returns awaited, failures).

Approve (with the remedy to carry out) or deny, with a note the customer receives; photos are
served only to the shop that owns the resolution.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.db import SessionDep
from app.orders.models import Order
from app.resolutions import attention as _attention  # noqa: F401 - registers its items on Home
from app.resolutions import policy as policies
from app.resolutions import service, uploads
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.web import nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.errors import PageNotFound
from app.web.forms import redirect_back
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("resolutions", "nav.resolutions", "/admin/resolutions", order=40, group="customers")
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
               "failed": "Failed – try again", "approved": "Being carried out", "completed": "Done",
               "offered": "Reopened: the customer chooses again", "denied": "Denied"}
# Why the policy decided (or left it to you): the codes policy.assess writes on each offer.
WHY_TEXT = {
    "within_window": "reported within the policy's window",
    "within_limit": "within your automatic limit",
    "photo": "photo provided",
    "carrier_says_delivered": "the carrier reports the parcel delivered",
    "other_currency": "paid in another currency than your limit's: no exchange rate is applied, so you decide",
    "over_limit": "above your automatic limit",
    "merchant_remedy": "this remedy is always yours to decide",
    "return_first": "the item comes back before a refund for this reason",
}


def _owned(session, shop_id: int, resolution_id: int) -> Resolution | None:
    resolution = session.get(Resolution, resolution_id)
    # Another shop's resolution looks exactly like a missing one.
    return resolution if resolution is not None and resolution.shop_id == shop_id else None


@router.get("/resolutions", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    rows = [(r, session.get(Order, r.order_id)) for r in service.queue(session, shop.id)]
    automatic = [(r, session.get(Order, r.order_id)) for r in service.decided_by_policy(session, shop.id)]
    context = {
        "rows": rows,
        "automatic": automatic,
        "why": lambda r: [WHY_TEXT.get(code, code) for code in (service.offer_for(r, r.remedy) or {}).get("why", [])],
        "reasons": REASON_TEXT,
        "remedies": REMEDY_TEXT,
        "statuses": STATUS_TEXT,
        "choosable": [r for r in policies.REMEDIES if r != "return_first"],
        "policy": policies.for_shop(shop),
        "all_remedies": policies.REMEDIES,
    }
    return render(request, "resolutions/queue.html", shop, context)


@router.get("/resolutions/{resolution_id}/photos/{name}", response_model=None)
def photo(session: SessionDep, shop: MerchantShop, resolution_id: ResolutionId,
          name: Annotated[str, Path(max_length=64)]) -> Response:
    resolution = _owned(session, shop.id, resolution_id)
    listed = resolution is not None and any(p.get("name") == name for p in resolution.photos)
    target = uploads.path_of(shop.id, name) if listed else None
    if target is None:
        return Response("photo not found", status_code=404, media_type="text/plain")
    kind = next(p["type"] for p in resolution.photos if p["name"] == name)
    return FileResponse(target, media_type=kind, headers={"Cache-Control": "private, no-store",
                                                          "X-Content-Type-Options": "nosniff"})


def _done(shop: Shop, token: str, notice: str) -> RedirectResponse:
    return redirect_back("/admin/resolutions", shop, token, notice=notice)


@router.post("/resolutions/{resolution_id}/decide", response_model=None)
def decide(session: SessionDep, post: MerchantPost, resolution_id: ResolutionId,
           decision: Annotated[str, Form(max_length=16)] = "",
           remedy: Annotated[str, Form(max_length=32)] = "",
           note: Annotated[str, Form(max_length=2000)] = "") -> RedirectResponse:
    shop, id_token = post.shop, post.token
    resolution = _owned(session, shop.id, resolution_id)
    if resolution is None:
        raise PageNotFound("order", resolution_id)
    if decision not in ("approve", "deny"):
        return _done(shop, id_token, "Choose approve or deny.")
    try:
        service.decide(session, shop, resolution, approve=decision == "approve", remedy=remedy or None, note=note)
    except service.ResolutionError:
        session.rollback()
        return _done(shop, id_token, "This request was already decided or the remedy is not possible.")
    session.commit()
    order = session.get(Order, resolution.order_id)
    verb = "Approved" if decision == "approve" else "Denied"
    return _done(shop, id_token, f"{verb}: {order.name}. The customer has been emailed.")
