"""Appending to the ledger and reading it back. No other module writes evidence events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import canonical as c
from app.evidence.models import EvidenceEvent


def record(
    session: Session,
    *,
    chain: str,
    kind: str,
    source: str,
    data: dict[str, Any],
    shop_id: int | None = None,
    order_id: int | None = None,
    occurred_at: datetime | None = None,
    personal: dict[str, Any] | None = None,
    webhook_delivery_id: int | None = None,
) -> EvidenceEvent:
    """Append one event to the shop's chain (flushes; the caller's transaction commits it).

    `personal` holds whatever identifies a person (email, name, address); it is committed to by a
    salted digest so that redaction can remove it without breaking the chain.
    """
    occurred_at = occurred_at or utcnow()
    data = c.normalise(data)
    salt = personal_hash = None
    if personal is not None:
        personal = c.normalise(personal)
        salt = c.new_salt()
        personal_hash = c.personal_digest(personal, salt)
    event = EvidenceEvent(
        chain=chain,
        shop_id=shop_id,
        order_id=order_id,
        kind=kind,
        source=source,
        occurred_at=occurred_at,
        data=data,
        personal=personal,
        personal_salt=salt,
        personal_digest=personal_hash,
        digest=c.content_digest(
            chain=chain,
            kind=kind,
            source=source,
            order_id=order_id,
            occurred_at=occurred_at,
            data=data,
            personal_digest=personal_hash,
        ),
        webhook_delivery_id=webhook_delivery_id,
    )
    session.add(event)
    session.flush()
    return event


def for_order(session: Session, *, shop_id: int, order_id: int) -> list[EvidenceEvent]:
    return list(
        session.scalars(
            select(EvidenceEvent)
            .where(EvidenceEvent.shop_id == shop_id, EvidenceEvent.order_id == order_id)
            .order_by(EvidenceEvent.seq)
        )
    )


@dataclass
class ChainReport:
    chain: str
    checked: int
    broken_event_id: int | None = None
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_event_id is None


def _problem(event: EvidenceEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"sequence gap: expected {expected_seq}, found {event.seq}"
    if event.prev_hash != prev_hash:
        return "previous-hash link does not match the event before it"
    if event.personal is not None:
        if event.personal_salt is None or event.personal_digest != c.personal_digest(
            event.personal, event.personal_salt
        ):
            return "personal data does not match its digest"
    digest = c.content_digest(
        chain=event.chain,
        kind=event.kind,
        source=event.source,
        order_id=event.order_id,
        occurred_at=event.occurred_at,
        data=event.data,
        personal_digest=event.personal_digest,
    )
    if digest != event.digest:
        return "content does not match its digest"
    if event.hash != c.link_hash(
        prev_hash=event.prev_hash, seq=event.seq, recorded_at=event.recorded_at, digest=event.digest
    ):
        return "chain hash does not match"
    return None


def verify_chain(session: Session, chain: str, *, batch: int = 5000) -> ChainReport:
    """Recompute every digest and link of one chain, streaming in seq order."""
    report = ChainReport(chain=chain, checked=0)
    prev_hash, expected_seq = c.GENESIS_HASH, 1
    query = (
        select(EvidenceEvent)
        .where(EvidenceEvent.chain == chain)
        .order_by(EvidenceEvent.seq)
        .execution_options(yield_per=batch)
    )
    for event in session.scalars(query):
        report.checked += 1
        problem = _problem(event, expected_seq, prev_hash)
        if problem:
            report.broken_event_id, report.broken_seq, report.reason = event.id, event.seq, problem
            return report
        prev_hash, expected_seq = event.hash, event.seq + 1
        session.expunge(event)
    return report


def chains(session: Session) -> list[str]:
    return list(session.scalars(select(EvidenceEvent.chain).distinct().order_by(EvidenceEvent.chain)))
