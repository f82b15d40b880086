"""Appending to the ledger and reading it back. No other module writes evidence events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, null, select, text, union, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import canonical as c
from app.evidence import kinds
from app.evidence.models import EvidenceEvent, LedgerHead


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

    Lock order: the insert takes the chain head's row lock, then (foreign-key checks) KEY SHARE on
    the order, delivery and shop rows it names. Code that locks those rows must use
    `with_for_update(key_share=True)` (FOR NO KEY UPDATE), which KEY SHARE does not wait for, so
    holding an order while appending its evidence can never deadlock with another append.

    `personal` holds whatever identifies a person (email, name, address); it is committed to by a
    salted digest so that redaction can remove it without breaking the chain.
    """
    kinds.check(kind)
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
        hash_version=c.HASH_VERSION,
    )
    session.add(event)
    session.flush()
    return event


def redact_personal(session: Session, event_ids: list[int]) -> int:
    """Remove the personal part (and its salt) of these events; digests stay, so chains verify.

    The one sanctioned UPDATE of the ledger: the guard trigger allows it only with this
    transaction-local switch and only when nothing but `personal` and `personal_salt` changes.
    """
    if not event_ids:
        return 0
    session.flush()
    # SET LOCAL ends with the transaction; switched off again at once so nothing else uses it.
    session.execute(text("SET LOCAL dropguard.redaction = 'on'"))
    result = session.execute(
        update(EvidenceEvent)
        .where(EvidenceEvent.id.in_(event_ids), EvidenceEvent.personal.is_not(None))
        .values(personal=null(), personal_salt=null())  # SQL NULL, not JSON null
        .execution_options(synchronize_session=False)
    )
    session.execute(text("SET LOCAL dropguard.redaction = 'off'"))
    return result.rowcount


def erase_chain(session: Session, *, chain: str, shop_id: int | None) -> int:
    """Delete a shop's whole chain and its head (shop/redact): the other sanctioned deletion."""
    session.flush()
    condition = EvidenceEvent.chain == chain
    if shop_id is not None:
        condition = condition | (EvidenceEvent.shop_id == shop_id)
    session.execute(text("SET LOCAL dropguard.erasure = 'on'"))
    result = session.execute(delete(EvidenceEvent).where(condition).execution_options(synchronize_session=False))
    session.execute(delete(LedgerHead).where(LedgerHead.chain == chain))
    session.execute(text("SET LOCAL dropguard.erasure = 'off'"))
    return result.rowcount


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
        return self.reason is None


def _problem(event: EvidenceEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"sequence gap: expected {expected_seq}, found {event.seq}"
    if event.prev_hash != prev_hash:
        return "previous-hash link does not match the event before it"
    if event.personal is not None and (
        event.personal_salt is None or event.personal_digest != c.personal_digest(event.personal, event.personal_salt)
    ):
        return "personal data does not match its digest"
    if event.hash_version not in c.HASH_VERSIONS:
        return f"hashed with version {event.hash_version}, which this build does not know"
    digest = c.content_digest(
        chain=event.chain,
        kind=event.kind,
        source=event.source,
        order_id=event.order_id,
        occurred_at=event.occurred_at,
        data=event.data,
        personal_digest=event.personal_digest,
        version=event.hash_version,
    )
    if digest != event.digest:
        return "content does not match its digest"
    if event.hash != c.link_hash(
        prev_hash=event.prev_hash, seq=event.seq, recorded_at=event.recorded_at, digest=event.digest,
        version=event.hash_version,
    ):
        return "chain hash does not match"
    return None


def verify_chain(session: Session, chain: str, *, batch: int = 5000) -> ChainReport:
    """Recompute every digest and link of one chain, streaming in seq order, up to its head.

    The links prove every event up to the last one; only the head (ledger_heads, written in the
    same transaction as each append) proves that nothing was removed after it. The head is read
    first, so that events appended while we verify are simply left for the next run.
    """
    report = ChainReport(chain=chain, checked=0)
    head = session.execute(select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.chain == chain)).one_or_none()
    prev_hash, expected_seq = c.GENESIS_HASH, 1
    last_id: int | None = None
    query = (
        select(EvidenceEvent)
        .where(EvidenceEvent.chain == chain)
        .order_by(EvidenceEvent.seq)
        .execution_options(yield_per=batch)
    )
    if head is not None:
        query = query.where(EvidenceEvent.seq <= head.seq)
    for event in session.scalars(query):
        report.checked += 1
        problem = _problem(event, expected_seq, prev_hash)
        if problem:
            report.broken_event_id, report.broken_seq, report.reason = event.id, event.seq, problem
            return report
        prev_hash, expected_seq, last_id = event.hash, event.seq + 1, event.id
        session.expunge(event)
    last_seq = expected_seq - 1
    if head is None:
        if report.checked:
            report.broken_event_id, report.broken_seq = last_id, last_seq
            report.reason = "the chain has no head in ledger_heads"
    elif head.seq != last_seq:
        report.broken_event_id, report.broken_seq = last_id, last_seq
        report.reason = f"the chain ends at seq {last_seq} but its head is at seq {head.seq}: events were removed"
    elif head.hash != prev_hash:
        report.broken_event_id, report.broken_seq = last_id, last_seq
        report.reason = "the last event's hash is not the one its head recorded: the end of the chain was replaced"
    return report


def chains(session: Session) -> list[str]:
    """Every chain with events or a head: a chain whose events were all deleted still has its head."""
    names = union(select(EvidenceEvent.chain), select(LedgerHead.chain)).subquery()
    return list(session.scalars(select(names.c.chain).order_by(names.c.chain)))


@dataclass
class OrderChainReport:
    """The chain check of one order's events: each recomputed (content digest, link hash), each
    linked to the event truly before it in the shop's chain, and none past the chain's head."""

    chain: str
    checked: int
    head_seq: int | None
    problems: list[tuple[int, str]]  # (seq, what is wrong)

    @property
    def intact(self) -> bool:
        return not self.problems and self.head_seq is not None


def verify_order(session: Session, chain: str, events: list[EvidenceEvent]) -> OrderChainReport:
    """Check one order's events where they sit in the shop's chain, without reading the whole
    chain: one query for the events just before them (their hashes are what each must link to)."""
    head = session.execute(select(LedgerHead.seq).where(LedgerHead.chain == chain)).scalar_one_or_none()
    before_seqs = [event.seq - 1 for event in events if event.seq > 1]
    previous = dict(session.execute(
        select(EvidenceEvent.seq, EvidenceEvent.hash)
        .where(EvidenceEvent.chain == chain, EvidenceEvent.seq.in_(before_seqs))
    ).all()) if before_seqs else {}
    previous[0] = c.GENESIS_HASH
    problems = []
    for event in events:
        expected = previous.get(event.seq - 1)
        if expected is None:
            problems.append((event.seq, f"the event before it (seq {event.seq - 1}) is missing from the chain"))
            continue
        if problem := _problem(event, event.seq, expected):
            problems.append((event.seq, problem))
        elif head is not None and event.seq > head:
            problems.append((event.seq, f"it is past the chain's head (seq {head})"))
    if head is None and events:
        problems.append((events[-1].seq, "the chain has no head in ledger_heads"))
    return OrderChainReport(chain=chain, checked=len(events), head_seq=head, problems=problems)
