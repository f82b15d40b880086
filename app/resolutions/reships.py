"""A reship's effect, as the supplier side learns it: the supplier order a reship placed reached an
end (accepted, or refused for good), so its claim is told (resolutions.reship_settled) in the same
transaction that recorded it. Imported by app.suppliers, so it imports nothing of theirs.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.outbox.service import enqueue
from app.resolutions.models import Resolution

SETTLED_TASK = "resolutions.reship_settled"
# The supplier took the reship (its effect is confirmed) / will never make it.
ACCEPTED = ("placed", "confirmed", "shipped")
REFUSED = ("failed", "cancelled")


def claim_of(session: Session, supplier_order_id: int) -> int | None:
    """The claim whose reship this supplier order is, if any."""
    return session.scalar(select(Resolution.id).where(Resolution.reship_supplier_order_id == supplier_order_id))


def supplier_order_settled(session: Session, supplier_order_id: int, status: str) -> None:
    if status in ACCEPTED + REFUSED and (resolution_id := claim_of(session, supplier_order_id)) is not None:
        enqueue(session, SETTLED_TASK, resolution_id)
