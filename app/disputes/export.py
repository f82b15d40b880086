"""The verifiable export of a pack: its cited events with their hashes, and the chain links between
them, in one file anyone can check offline (`dropguard ledger verify-pack FILE`, no database).

What a check proves: each event's content hashes to its digest (app.evidence.canonical, the very
rules the ledger uses), each link hash commits to the previous hash, the sequence number, the time
the ledger recorded it and the digest, and the links run unbroken from the first cited event to
the last. An event made after the fact would need every later link rewritten, which the shop's
published chain head (the daily digest) exposes.

The file is RFC 8785 canonical JSON and nothing else: every byte is either a hashed value or a
fixed marker, and a file that is not in canonical form is refused, so one changed byte anywhere
is refused. Carrier scans carry their personal part (place, carrier's words) with its salt, since
the document shows them; other events only commit to theirs by digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evidence import canonical as c
from app.evidence.models import EvidenceEvent

FORMAT = "dropguard-evidence-pack"
VERSION = 1
# Events whose personal part travels in the export (the document prints it).
PERSONAL_SHOWN = frozenset({"tracking.scan"})
# A pack whose cited events are this far apart in the chain exports the links between them anyway;
# beyond it the file would be mostly links, and the chain check on the proof page covers them.
MAX_LINKS = 200_000


def _event(event: EvidenceEvent) -> dict[str, Any]:
    shown = event.kind in PERSONAL_SHOWN and event.personal is not None
    return {
        "seq": event.seq, "kind": event.kind, "source": event.source, "order_id": event.order_id,
        "occurred_at": c.iso(event.occurred_at), "recorded_at": c.iso(event.recorded_at), "data": event.data,
        "personal_digest": event.personal_digest, "personal": event.personal if shown else None,
        "personal_salt": event.personal_salt.hex() if shown and event.personal_salt else None,
        "digest": event.digest, "prev_hash": event.prev_hash, "hash": event.hash, "hash_version": event.hash_version,
    }


def _link(seq: int, recorded_at: datetime, digest: str, prev_hash: str, hash_: str, version: int) -> dict[str, Any]:
    return {"seq": seq, "recorded_at": c.iso(recorded_at), "digest": digest, "prev_hash": prev_hash, "hash": hash_,
            "hash_version": version}


def build(session: Session, chain: str, events: list[EvidenceEvent]) -> bytes:
    cited = sorted({e.id: e for e in events}.values(), key=lambda e: e.seq)
    links: list[dict[str, Any]] = []
    if len(cited) > 1 and cited[-1].seq - cited[0].seq <= MAX_LINKS:
        wanted = {e.seq for e in cited}
        rows = session.execute(
            select(EvidenceEvent.seq, EvidenceEvent.recorded_at, EvidenceEvent.digest, EvidenceEvent.prev_hash,
                   EvidenceEvent.hash, EvidenceEvent.hash_version)
            .where(EvidenceEvent.chain == chain, EvidenceEvent.seq > cited[0].seq, EvidenceEvent.seq < cited[-1].seq)
            .order_by(EvidenceEvent.seq)
        ).all()
        links = [_link(*row) for row in rows if row.seq not in wanted]
    return c.canonical({"format": FORMAT, "version": VERSION, "chain": chain,
                        "events": [_event(e) for e in cited], "links": links})


@dataclass
class Verdict:
    ok: bool
    events: int = 0
    links: int = 0
    reason: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None


def _refuse(reason: str) -> Verdict:
    return Verdict(False, reason=reason)


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    # Exactly as exported: fromisoformat also reads other separators and forms of the same instant,
    # and an edited file must not verify because it still means the same time.
    if c.iso(moment) != value:
        raise ValueError(f"time {value!r} is not written as the export writes times")
    return moment


def verify(raw: bytes) -> Verdict:
    """Check an export offline. Never raises on bad input: the verdict says what is wrong."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return _refuse(f"not a JSON document: {error}")
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        return _refuse(f"not a {FORMAT} version {VERSION} file")
    try:
        if c.canonical(document) != raw:
            return _refuse("the file is not in canonical form: it was edited after export")
    except (TypeError, ValueError) as error:
        return _refuse(f"the file holds values canonical JSON cannot carry: {error}")
    if set(document) != DOCUMENT_MEMBERS:
        return _refuse(f"the file holds other members than an export: {sorted(set(document) ^ DOCUMENT_MEMBERS)}")
    chain, events, links = document.get("chain"), document.get("events"), document.get("links")
    if not isinstance(chain, str) or not isinstance(events, list) or not isinstance(links, list) or not events:
        return _refuse("the file names no chain or no events")
    try:
        return _check(chain, events, links)
    except (KeyError, TypeError, ValueError, c.UnknownHashVersion) as error:
        return _refuse(f"malformed record: {error}")


# The exact members of each record: a renamed or extra member (e.g. "personal" spelt otherwise, which
# would let an edited personal part pass unchecked) is refused, not ignored.
EVENT_MEMBERS = frozenset({"seq", "kind", "source", "order_id", "occurred_at", "recorded_at", "data", "personal_digest",
                           "personal", "personal_salt", "digest", "prev_hash", "hash", "hash_version"})
LINK_MEMBERS = frozenset({"seq", "recorded_at", "digest", "prev_hash", "hash", "hash_version"})
DOCUMENT_MEMBERS = frozenset({"format", "version", "chain", "events", "links"})


def _check(chain: str, events: list[dict[str, Any]], links: list[dict[str, Any]]) -> Verdict:
    for kind, records, members in (("event", events, EVENT_MEMBERS), ("link", links, LINK_MEMBERS)):
        for record in records:
            if not isinstance(record, dict) or set(record) != members:
                return _refuse(f"a {kind} record does not hold exactly the members of an export "
                               f"({sorted(set(record) ^ members) if isinstance(record, dict) else type(record).__name__})")
    for event in events:
        version = int(event["hash_version"])
        digest = c.content_digest(chain=chain, kind=event["kind"], source=event["source"], order_id=event["order_id"],
                                  occurred_at=_time(event["occurred_at"]), data=event["data"],
                                  personal_digest=event["personal_digest"], version=version)
        if digest != event["digest"]:
            return _refuse(f"event {event['seq']} ({event['kind']}): its content does not match its digest")
        if event.get("personal") is not None:
            salt = bytes.fromhex(str(event.get("personal_salt") or ""))
            if c.personal_digest(event["personal"], salt) != event["personal_digest"]:
                return _refuse(f"event {event['seq']}: its personal part does not match its digest")
    records = sorted([*events, *links], key=lambda r: int(r["seq"]))
    previous: dict[str, Any] | None = None
    for record in records:
        seq = int(record["seq"])
        if previous is not None:
            if seq != int(previous["seq"]) + 1:
                return _refuse(f"links are missing between records {previous['seq']} and {seq}")
            if record["prev_hash"] != previous["hash"]:
                return _refuse(f"record {seq} does not link to record {previous['seq']}")
        expected = c.link_hash(prev_hash=record["prev_hash"], seq=seq, recorded_at=_time(record["recorded_at"]),
                               digest=record["digest"], version=int(record["hash_version"]))
        if expected != record["hash"]:
            return _refuse(f"record {seq}: its chain hash does not match")
        previous = record
    return Verdict(True, events=len(events), links=len(links), first_seq=int(records[0]["seq"]),
                   last_seq=int(records[-1]["seq"]))
