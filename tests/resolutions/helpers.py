"""Tiny valid images (by magic bytes) and a form post for the report-a-problem page."""

from __future__ import annotations

import base64

# 1x1 images; only the leading bytes matter to the check, but these are real files.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def report(client, token: str, *, reason: str = "damaged", message: str = "Cracked", files=None, lang: str = "en"):
    return client.post(
        f"/status/{token}/problem?lang={lang}",
        data={"reason": reason, "message": message},
        files=files or [],
        follow_redirects=False,
    )


# What the row keeps of one stored photo (service.report counts them; the file is not read).
STORED_PHOTO = {"name": "0" * 32 + ".png", "type": "image/png", "size": len(PNG), "sha256": "0" * 64}


def delivered(db, order, *, days_ago: float = 1):
    """The order's parcel delivered by the carrier `days_ago` days ago (committed)."""
    from datetime import timedelta

    from app.db import utcnow
    from tests.notifications.helpers import add_shipment

    shipment = add_shipment(db, order)
    shipment.status, shipment.delivered_at = "delivered", utcnow() - timedelta(days=days_ago)
    db.commit()
    return shipment


def placed_days_ago(db, order, days: float) -> None:
    """The order placed `days` days ago (a "not received" claim is possible once it is overdue)."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.db import utcnow
    from app.orders.models import Order

    db.execute(update(Order).where(Order.id == order.id).values(placed_at=utcnow() - timedelta(days=days)))
    db.commit()
    db.refresh(order)
