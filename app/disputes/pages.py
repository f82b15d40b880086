"""The merchant's dispute pages: the list (status, reason, amount, countdown, completeness), the
dispute page (the pack element by element, the response summary to edit, the PDF and the
verifiable export, submit), the order page's dispute card and Home's attention item."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import SessionDep, utcnow
from app.disputes import document, export, narrative, packs, reminders, submission, views
from app.disputes.models import Dispute
from app.disputes.packs import FAMILY_LABELS
from app.disputes.page_text import TEXT
from app.disputes.reasons import REASON_LABELS
from app.orders.models import Order
from app.shops.models import Shop
from app.web import nav
from app.web.attention import register_attention
from app.web.auth import MerchantPost, MerchantShop
from app.web.errors import PageNotFound
from app.web.forms import redirect_back
from app.web.panels import register_order_panel
from app.web.phrases import locale_of, localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
PATH = "/admin/disputes"
nav.register("disputes", "nav.disputes", PATH, order=42, group="orders")
DisputeId = Annotated[int, Path(ge=1, le=2**62)]
# Statuses after which evidence can no longer change.
LOCKED = ("queued", "submitting", "submitted")


def countdown(dispute: Dispute, t, now: datetime | None = None) -> str | None:
    if dispute.evidence_due_by is None or dispute.status != "needs_response":
        return None
    left = dispute.evidence_due_by - (now or utcnow())
    if left.total_seconds() <= 0:
        return t("left.past")
    if left.days >= 2:
        return t("left.days", days=left.days)
    return t("left.hours", hours=max(1, int(left.total_seconds() // 3600)))


def _submission_label(dispute: Dispute, t, when) -> str:
    if dispute.submission_status == "submitted":
        return t("submission.submitted", at=when(dispute.submitted_at))
    return t(f"submission.{dispute.submission_status}")


def _row(session: Session, shop: Shop, dispute: Dispute, order_name: str | None, t, money, when) -> dict[str, Any]:
    pack = packs.build(session, dispute, shop=shop)
    return {
        "id": dispute.id, "order": order_name, "reason": REASON_LABELS.get(dispute.reason or "", dispute.reason or ""),
        "code": dispute.network_reason_code, "amount": money(dispute.amount or 0, dispute.currency or shop.currency),
        "status": dispute.status, "status_label": t(f"status.{dispute.status}"),
        "deadline": when(dispute.evidence_due_by) if dispute.evidence_due_by else "",
        "day_only": dispute.evidence_due_day_only, "left": countdown(dispute, t),
        "complete": pack.complete, "missing": len(pack.missing),
        "submission": _submission_label(dispute, t, when),
    }


@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    words = localised(request, shop, TEXT)
    rows = [_row(session, shop, d, name, words["t"], words["money"], words["when"])
            for d, name in views.for_shop(session, shop.id)]
    return render(request, "disputes/list.html", shop, {**words, "rows": rows})


def _load(session: Session, shop: Shop, dispute_id: int) -> Dispute:
    dispute = views.find(session, shop.id, dispute_id)
    if dispute is None:  # another shop's looks exactly like a missing one
        raise PageNotFound("dispute", dispute_id)
    return dispute


@router.get("/disputes/{dispute_id}", response_class=HTMLResponse)
def dispute_page(request: Request, session: SessionDep, shop: MerchantShop, dispute_id: DisputeId) -> HTMLResponse:
    dispute = _load(session, shop, dispute_id)
    words = localised(request, shop, TEXT)
    t, when = words["t"], words["when"]
    pack = packs.build(session, dispute, shop=shop)
    history = [(t(f"status.{h['status']}") if TEXT.has(f"status.{h['status']}") else h["status"],
                when(datetime.fromisoformat(h["at"]))) for h in dispute.status_history or []]
    return render(request, "disputes/detail.html", shop, {
        **words, "dispute": dispute, "pack": pack, "order": pack.order,
        "reason": REASON_LABELS.get(dispute.reason or "", dispute.reason or ""),
        "family": FAMILY_LABELS[pack.family], "history": history, "left": countdown(dispute, t),
        "narrative": narrative.current(pack), "edited": dispute.narrative is not None,
        "locked": dispute.submission_status in LOCKED, "open": dispute.status == "needs_response",
        "submission": _submission_label(dispute, t, when), "max_chars": narrative.MAX_CHARS,
    })


def _back(request: Request, post, dispute_id: int, notice: str) -> RedirectResponse:
    return redirect_back(f"{PATH}/{dispute_id}", post.shop, post.token, notice=notice,
                         locale=request.query_params.get("locale") or None)


@router.post("/disputes/{dispute_id}/narrative", response_model=None)
def save_narrative(request: Request, session: SessionDep, post: MerchantPost, dispute_id: DisputeId,
                   text: Annotated[str, Form(max_length=40_000)] = "",
                   action: Annotated[str, Form(pattern="^(save|reset)$")] = "save") -> RedirectResponse:
    """The merchant's own words replace the generated summary (or the generated one comes back)."""
    t = TEXT.translator(locale_of(request))
    dispute = _load(session, post.shop, dispute_id)
    dispute = session.get(Dispute, dispute.id, with_for_update=True, populate_existing=True)
    if dispute.submission_status in LOCKED:
        return _back(request, post, dispute_id, t("narrative.locked"))
    text = text.replace("\r\n", "\n").strip()
    if len(text) > narrative.MAX_CHARS:
        return _back(request, post, dispute_id, t("narrative.too_long"))
    edited = text if action == "save" and text else None
    dispute.narrative, dispute.narrative_edited_at = edited, utcnow() if edited else None
    submission.record(session, post.shop, dispute, "dispute.narrative_edited",
                      {"action": "save" if edited else "reset",
                       "text_sha256": hashlib.sha256((edited or "").encode()).hexdigest() if edited else None},
                      personal={"text": edited} if edited else None)
    session.commit()
    return _back(request, post, dispute_id, t("narrative.saved" if edited else "narrative.restored"))


@router.post("/disputes/{dispute_id}/submit", response_model=None)
def submit(request: Request, session: SessionDep, post: MerchantPost, dispute_id: DisputeId) -> RedirectResponse:
    """One click by the merchant: queued once (a second click finds it queued and says so)."""
    t = TEXT.translator(locale_of(request))
    dispute = _load(session, post.shop, dispute_id)
    dispute = session.get(Dispute, dispute.id, with_for_update=True, populate_existing=True)
    try:
        submission.request(session, post.shop, dispute, by="merchant")
    except submission.SubmissionError as error:
        session.rollback()
        return _back(request, post, dispute_id, t("submit.refused", reason=error.message))
    session.commit()
    return _back(request, post, dispute_id, t("submit.queued"))


@router.get("/disputes/{dispute_id}/evidence.pdf", response_model=None)
def pdf(session: SessionDep, shop: MerchantShop, dispute_id: DisputeId) -> Response:
    pack = packs.build(session, _load(session, shop, dispute_id), shop=shop)
    rendered = document.render(session, pack, narrative.current(pack))
    return Response(rendered.data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="dispute-{pack.dispute.external_id}.pdf"'})


@router.get("/disputes/{dispute_id}/evidence-export.json", response_model=None)
def verifiable_export(session: SessionDep, shop: MerchantShop, dispute_id: DisputeId) -> Response:
    pack = packs.build(session, _load(session, shop, dispute_id), shop=shop)
    name = f"dispute-{pack.dispute.external_id}-evidence.json"
    return Response(export.build(session, pack.chain, pack.cited), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _order_panel(session: Session, shop: Shop, order: Order) -> dict[str, Any] | None:
    disputes = list(session.scalars(select(Dispute).where(Dispute.shop_id == shop.id, Dispute.order_id == order.id)
                                    .order_by(Dispute.id)))
    if not disputes:
        return None

    def card(locale: str) -> dict[str, Any]:
        t = TEXT.translator(locale)
        return {"heading": t("panel.heading"), "open": t("panel.open"), "items": [
            {"id": d.id, "reason": REASON_LABELS.get(d.reason or "", d.reason or ""),
             "status": t(f"status.{d.status}"), "left": countdown(d, t),
             "complete": packs.build(session, d, shop=shop).complete} for d in disputes]}

    return {"card": card}


register_order_panel("disputes", "disputes/_order_panel.html", _order_panel, order=60)
register_attention("disputes_due", "disputes.attention", PATH, reminders.count_due, tone="critical", order=10)
