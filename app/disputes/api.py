"""The disputes JSON API (session token; the shop comes from the token only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from app.db import SessionDep
from app.disputes import document, export, narrative, packs, views
from app.errors import NotFound
from app.shops.auth import CurrentShop

router = APIRouter(prefix="/api/disputes")
DisputeId = Annotated[int, Path(ge=1, le=2**62)]


def _pack(session, shop, dispute_id: int) -> packs.Pack:
    dispute = views.find(session, shop.id, dispute_id)
    if dispute is None:
        raise NotFound(f"no dispute {dispute_id}")
    return packs.build(session, dispute, shop=shop)


@router.get("")
def list_disputes(shop: CurrentShop, session: SessionDep) -> dict[str, Any]:
    """The shop's disputes, open ones first by deadline."""
    rows = views.for_shop(session, shop.id)
    return {"disputes": [views.summary(d, name, packs.build(session, d, shop=shop)) for d, name in rows]}


@router.get("/{dispute_id}")
def get_dispute(shop: CurrentShop, session: SessionDep, dispute_id: DisputeId) -> dict[str, Any]:
    """One dispute with its evidence pack, element by element, and the response summary."""
    pack = _pack(session, shop, dispute_id)
    return views.detail(pack.dispute, pack)


@router.get("/{dispute_id}/evidence.pdf")
def evidence_pdf(shop: CurrentShop, session: SessionDep, dispute_id: DisputeId) -> Response:
    pack = _pack(session, shop, dispute_id)
    rendered = document.render(session, pack, narrative.current(pack))
    name = f"dispute-{pack.dispute.external_id}.pdf"
    return Response(rendered.data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{dispute_id}/evidence-export.json")
def evidence_export(shop: CurrentShop, session: SessionDep, dispute_id: DisputeId) -> Response:
    """The pack's cited events with their hashes and links: `dropguard ledger verify-pack FILE` checks it offline."""
    pack = _pack(session, shop, dispute_id)
    name = f"dispute-{pack.dispute.external_id}-evidence.json"
    return Response(export.build(session, pack.chain, pack.cited), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
