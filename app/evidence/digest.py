"""The daily chain-head digest: each shop's ledger head (event count, last hash, its time) written
down once a day, e-mailed to the merchant and listed in the dashboard, and the check of the chain
against every digest so far.

Why it matters: `verify_chain` proves every link, but someone with the database's superuser
rights could rewrite an event and recompute every later hash and the head, leaving a chain that
verifies. They cannot change the digests already in the merchant's mailbox: a rewritten event at
or before a digest's seq changes the hash at that seq, which `check` compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts import merchant_mail
from app.alerts.models import ChainDigest
from app.alerts.page_text import TEXT
from app.db import session_scope
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent, LedgerHead
from app.shops.models import Shop
from app.templating import format_datetime, format_number

DAILY_TASK = "digest.daily"


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    at: datetime | None


def head(session: Session, chain: str) -> Head | None:
    """The chain's head now: its count (seq), last hash and that event's recording time."""
    row = session.execute(select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.chain == chain)).one_or_none()
    if row is None:
        return None
    at = session.scalar(select(EvidenceEvent.recorded_at).where(EvidenceEvent.chain == chain,
                                                                 EvidenceEvent.seq == row.seq))
    return Head(row.seq, row.hash, at)


def record_day(session: Session, shop: Shop, day: date) -> ChainDigest | None:
    """Write the shop's digest of `day` (once: a second run that day changes nothing), record it
    in the ledger and queue the merchant's e-mail. None for a shop without any evidence yet."""
    found = head(session, shop.domain)
    if found is None:
        return None
    digest_id = session.scalar(insert(ChainDigest).values(
        shop_id=shop.id, chain=shop.domain, day=day, seq=found.seq, hash=found.hash, head_at=found.at,
    ).on_conflict_do_nothing(index_elements=["shop_id", "day"]).returning(ChainDigest.id))
    if digest_id is None:
        return None
    # Appended after the head was read: this event is the next link, named by tomorrow's digest.
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="ledger.digest_recorded", source="dropguard",
                    data={"day": day.isoformat(), "seq": found.seq, "hash": found.hash,
                          "head_at": found.at.isoformat() if found.at else None})
    locale = shop.locale if shop.locale in ("en", "fr") else "en"
    t = TEXT.translator(locale)
    when = format_datetime(found.at, locale, shop.timezone) if found.at else "–"
    merchant_mail.queue(
        session, shop, key=f"digest:{day.isoformat()}", kind="chain_digest",
        subject=t("mail.digest.subject", day=day.isoformat(), count=format_number(found.seq, locale)),
        body=t("mail.digest.body", day=day.isoformat(), count=format_number(found.seq, locale), hash=found.hash,
               head_at=when),
    )
    return session.get(ChainDigest, digest_id)


def daily(*, today: date | None = None) -> int:
    """Beat: today's digest of every installed shop, each in its own transaction."""
    today = today or datetime.now(UTC).date()
    with session_scope() as session:
        shop_ids = list(session.scalars(select(Shop.id).where(Shop.status == "installed").order_by(Shop.id)))
    written = 0
    for shop_id in shop_ids:
        with session_scope() as session:
            written += record_day(session, session.get(Shop, shop_id), today) is not None
    return written


def history(session: Session, shop_id: int, *, limit: int = 90) -> list[ChainDigest]:
    return list(session.scalars(select(ChainDigest).where(ChainDigest.shop_id == shop_id)
                                .order_by(ChainDigest.day.desc()).limit(limit)))


@dataclass
class DigestCheck:
    chain: str
    digests: int
    broken_day: date | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.reason is None


def check(session: Session, shop: Shop) -> DigestCheck:
    """The chain verified link by link, then held against every digest: the event at each
    digest's seq must still carry the digest's hash."""
    digests = list(session.scalars(select(ChainDigest).where(ChainDigest.shop_id == shop.id)
                                   .order_by(ChainDigest.day)))
    result = DigestCheck(shop.domain, len(digests))
    report = evidence.verify_chain(session, shop.domain)
    if not report.intact:
        result.reason = f"the chain itself is broken at seq {report.broken_seq}: {report.reason}"
        result.broken_day = next((d.day for d in digests if d.seq >= (report.broken_seq or 0)), None)
        return result
    for digest in digests:
        now = session.scalar(select(EvidenceEvent.hash).where(EvidenceEvent.chain == shop.domain,
                                                              EvidenceEvent.seq == digest.seq))
        if now is None:
            result.broken_day, result.reason = digest.day, f"the event at seq {digest.seq} no longer exists"
            return result
        if now != digest.hash:
            result.broken_day = digest.day
            result.reason = (f"the event at seq {digest.seq} now hashes to {now[:16]}…, the digest says "
                             f"{digest.hash[:16]}…: history up to that event was rewritten")
            return result
    return result


def record_failure(session: Session, shop: Shop, result: DigestCheck) -> None:
    """A failed check is itself evidence (appended to the chain it found rewritten)."""
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="ledger.digest_check_failed",
                    source="dropguard", data={"day": result.broken_day.isoformat() if result.broken_day else None,
                                              "reason": result.reason, "digests": result.digests})
