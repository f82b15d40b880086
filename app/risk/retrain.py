"""The merchant's "retrain now": one training per click, however often the form is sent.

Each render of the model page issues a fresh request id in the form. Posting it locks the shop's
row (a double click waits for the first), and only an id not seen before enqueues
`risk.train_shop` and is recorded ("risk.training_requested"); a resent form finds its id among
the shop's recent requests and enqueues nothing. The request's ledger position lets the page say
what came of it: the first "risk.model_trained" or "risk.training_skipped" after it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.outbox.service import enqueue
from app.shops.models import Shop

TASK = "risk.train_shop"
SETTINGS_KEY = "risk_training"
KEEP = 20  # recent request ids remembered per shop (a resent form is recent)
OUTCOME_KINDS = ("risk.model_trained", "risk.training_skipped")
_ID = re.compile(r"^[0-9a-f]{32}$")


class BadRequestId(AppError):
    code = "bad_request_id"


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Requested:
    request_id: str
    at: datetime
    new: bool  # False: this click had already been taken


@dataclass(frozen=True)
class LastRequest:
    at: datetime
    # None while the worker has not finished; else what the ledger says came of it.
    outcome: dict[str, Any] | None


def _requests(shop: Shop) -> list[dict[str, Any]]:
    found = (shop.settings or {}).get(SETTINGS_KEY, {}).get("requests", [])
    return found if isinstance(found, list) else []


def request_training(session: Session, shop_id: int, request_id: str) -> Requested:
    """Enqueue the shop's training once for this request id (flushes; the caller commits)."""
    if not _ID.match(request_id or ""):
        raise BadRequestId("the form's request id is missing or malformed; reload the page and try again")
    shop = session.scalar(select(Shop).where(Shop.id == shop_id).with_for_update(key_share=True)
                          .execution_options(populate_existing=True))
    seen = next((r for r in _requests(shop) if r.get("id") == request_id), None)
    if seen is not None:
        return Requested(request_id, datetime.fromisoformat(seen["at"]), new=False)
    now = utcnow()
    event = evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="risk.training_requested",
                            source="merchant", occurred_at=now, data={"request": request_id})
    enqueue(session, TASK, shop.id)
    # The chain position is set by the database as the event is inserted.
    seq = session.scalar(select(EvidenceEvent.seq).where(EvidenceEvent.id == event.id))
    kept = [*_requests(shop), {"id": request_id, "at": now.isoformat(), "seq": seq}][-KEEP:]
    shop.settings = {**(shop.settings or {}), SETTINGS_KEY: {"requests": kept}}
    flag_modified(shop, "settings")
    session.flush()
    return Requested(request_id, now, new=True)


def last_request(session: Session, shop: Shop) -> LastRequest | None:
    """The shop's latest click and, once the worker is done, its result (reads the ledger after
    the request's own event only, so it is one short index range)."""
    requests = _requests(shop)
    if not requests:
        return None
    latest = requests[-1]
    event = session.scalar(
        select(EvidenceEvent).where(EvidenceEvent.chain == shop.domain, EvidenceEvent.seq > int(latest["seq"]),
                                    EvidenceEvent.kind.in_(OUTCOME_KINDS))
        .order_by(EvidenceEvent.seq).limit(1))
    outcome = None
    if event is not None:
        outcome = {"kind": event.kind, "at": event.occurred_at, **event.data}
    return LastRequest(at=datetime.fromisoformat(latest["at"]), outcome=outcome)
