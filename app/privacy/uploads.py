"""What customers wrote and photographed in the resolution centre: exported, redacted, erased.

The message is the customer's own words and the photos may show them or their home, so both go
with a customers/redact (the resolution's outcome, amounts and dates stay as business records);
the shop's whole upload folder goes with shop/redact.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.insights import messages as customer_messages
from app.resolutions import uploads as resolution_uploads
from app.resolutions.models import Resolution
from app.shops.models import Shop

log = logging.getLogger(__name__)


def _rows(session: Session, shop: Shop, order_ids: list[int]) -> list[Resolution]:
    if not order_ids:
        return []
    return list(
        session.scalars(
            select(Resolution)
            .where(Resolution.shop_id == shop.id, Resolution.order_id.in_(order_ids))
            .order_by(Resolution.id)
        )
    )


def export(session: Session, shop: Shop, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in _rows(session, shop, order_ids):
        grouped.setdefault(row.order_id, []).append(
            {
                "id": row.id,
                "reason": row.reason,
                "status": row.status,
                "message": row.message,
                "photos": row.photos,
                "remedy": row.remedy,
                "amount": row.amount,
                "currency": row.currency,
                "created_at": row.created_at,
                "resolved_at": row.resolved_at,
            }
        )
    return grouped


def redact(session: Session, shop: Shop, order_ids: list[int]) -> int:
    """Null the customer's messages and delete their photos (files first: they are the data)."""
    rows = _rows(session, shop, order_ids)
    for row in rows:
        for photo in row.photos or []:
            path = (
                resolution_uploads.path_of(shop.id, str(photo.get("name", "")))
                if isinstance(photo, dict)
                else None
            )
            if path is not None:
                path.unlink(missing_ok=True)
        row.message, row.photos = None, []
    # Their contact-form messages and e-mails go too (their classification stays, without words).
    redacted = customer_messages.redact_for_orders(session, shop.id, order_ids)
    session.flush()
    return len(rows) + redacted


def erase_shop_files(shop_id: int) -> None:
    """The shop's upload folder, after its rows are gone (called once the erasure committed)."""
    folder = resolution_uploads.directory() / str(int(shop_id))
    if folder.is_dir():
        shutil.rmtree(folder)
        log.info("privacy.shop_files_erased", extra={"shop_id": shop_id})
