"""Merchant form: the resolution policy (what is offered per reason, windows, auto-refund limit).

Saved in shops.settings["resolutions"] with a new version; the customer's acceptance records the
version and digest of the policy they were shown, so an edit never rewrites what was agreed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from app.db import SessionDep, utcnow
from app.evidence import service as evidence
from app.resolutions import policy as policies
from app.shops.models import Shop
from app.web.auth import MerchantPost
from app.web.forms import redirect_back

router = APIRouter(prefix="/admin", include_in_schema=False)


def _done(shop: Shop, token: str, notice: str) -> RedirectResponse:
    return redirect_back("/admin/resolutions", shop, token, notice=notice, fragment="policy")


def parse(form) -> dict:
    """The policy from the form's fields; raises ValueError with the field's problem."""
    try:
        limit = Decimal(str(form.get("max_auto_refund") or "0"))
    except InvalidOperation:
        raise ValueError("the automatic limit must be an amount, e.g. 50.00") from None
    if not limit.is_finite() or limit < 0 or limit > 100000:
        raise ValueError("the automatic limit must be between 0 and 100000")
    percent = str(form.get("partial_refund_percent") or "")
    if not percent.isdigit() or not 1 <= int(percent) <= 100:
        raise ValueError("the partial refund must be 1 to 100 %")
    windows, remedies = {}, {}
    for reason in policies.REASONS:
        days = str(form.get(f"window_{reason}") or "")
        if not days.isdigit() or not 0 <= int(days) <= 365:
            raise ValueError(f"the window for {reason.replace('_', ' ')} must be 0 to 365 days")
        windows[reason] = int(days)
        remedies[reason] = [r for r in policies.REMEDIES if form.get(f"remedy_{reason}_{r}") == "on"]
    return_first = [r for r in policies.REASONS if form.get(f"return_first_{r}") == "on"]
    photo_required = [r for r in policies.REASONS if form.get(f"photo_required_{r}") == "on"]
    after = str(form.get("not_received_after_days") or "")
    if not after.isdigit() or not 0 <= int(after) <= 365:
        raise ValueError('"not received" must be reportable from 0 to 365 days after the order')
    return {"version": utcnow().strftime("v%Y%m%d-%H%M%S"), "max_auto_refund": f"{limit:.2f}",
            "partial_refund_percent": int(percent), "windows_days": windows, "remedies": remedies,
            "return_first": return_first, "photo_required": photo_required,
            "not_received_after_days": int(after)}


@router.post("/resolutions/policy", response_model=None)
async def save_policy(request: Request, session: SessionDep, post: MerchantPost) -> RedirectResponse:
    # async only to read the form's dynamic field names; the database work runs in a thread.
    form = await request.form(max_fields=80)
    return await run_in_threadpool(_save, session, post, form)


def _save(session: Session, post: MerchantPost, form) -> RedirectResponse:
    shop, token = post.shop, post.token
    try:
        saved = parse(form)
    except ValueError as error:
        return _done(shop, token, f"Policy not saved: {error}.")
    shop.settings = {**(shop.settings or {}), "resolutions": saved}
    flag_modified(shop, "settings")
    policy = policies.for_shop(shop)
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=None,
                    kind="resolution_policy.saved", source="merchant",
                    data={"version": policy.version, "policy": saved,
                          "digest": policies.digest(policy, policy.canonical())})
    session.commit()
    return _done(shop, token, f"Policy saved as version {policy.version}.")
