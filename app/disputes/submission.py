"""Submitting a pack's evidence to the store, exactly once (the discipline of app/exactly_once.py).

Evidence locks once submitted, so:
1. The merchant's click (or the automatic sweep, only for a complete pack) queues it; the sweep
   never sends an incomplete pack, it records that it held it back.
2. The dispute's advisory lock; the attempt is recorded and committed before any call.
3. One read of `dispute(id:)` first: evidence already submitted (an earlier attempt whose answer
   was lost, or whose worker was killed) is adopted, never sent again.
4. `disputeEvidenceUpdate` with the text fields and `submitEvidence: true`. Files: only API
   versions that take `uploadedFiles` (facts §1.1: `unstable` today) get the evidence PDF, staged
   with `stagedUploadsCreate` (DISPUTE_FILE_UPLOAD) and attached as the RESPONSE_SUMMARY_FILE; on
   the stable versions the response goes as text alone and the PDF stays the merchant's download.
5. The answer is recorded: submitted, or refused with the store's user error codes
   (EVIDENCE_PAST_DUE_DATE, FILES_SIZE_EXCEEDED_LIMIT, ...) shown to the merchant.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import exactly_once
from app.config import get_settings
from app.db import session_scope, utcnow
from app.disputes import document, narrative, packs, reasons
from app.disputes.models import Dispute
from app.disputes.service import OPEN_STATUSES
from app.evidence import service as evidence
from app.external_calls import Call
from app.outbox.service import enqueue
from app.shops import guard, tokens
from app.shops.admin_client import AdminClient, AdminError, AdminTemporaryError
from app.shops.models import Shop

log = logging.getLogger(__name__)

SUBMIT_TASK = "disputes.submit"
MAX_ATTEMPTS = 8
# Statuses from which the merchant (or the sweep) may queue a submission.
QUEUEABLE = ("none", "failed", "held")

READ = """
query DisputeEvidenceRead($id: ID!) {
  dispute(id: $id) { id status evidenceSentOn disputeEvidence { id submitted } }
}
"""
UPDATE = """
mutation DisputeEvidenceSubmit($id: ID!, $input: ShopifyPaymentsDisputeEvidenceUpdateInput!) {
  disputeEvidenceUpdate(id: $id, input: $input) {
    disputeEvidence { id submitted }
    userErrors { field message code }
  }
}
"""


STAGE = """
mutation DisputeFileStage($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) { stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } }
}
"""
# API versions whose ShopifyPaymentsDisputeEvidenceUpdateInput takes uploadedFiles (facts §1.1).
FILE_UPLOAD_VERSIONS = ("unstable",)


def attaches_files() -> bool:
    return get_settings().shopify_api_version in FILE_UPLOAD_VERSIONS


class SubmissionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class SubmissionBusy(Exception):
    """Another task is submitting this dispute's evidence."""


class RetryLater(Exception):
    """The store could not answer now."""


def record(session: Session, shop: Shop, dispute: Dispute, kind: str, data: dict[str, Any],
           personal: dict[str, Any] | None = None) -> None:
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=dispute.order_id, kind=kind,
                    source="dropguard", data={"dispute_id": dispute.id, "external_id": dispute.external_id, **data},
                    personal=personal)


def request(session: Session, shop: Shop, dispute: Dispute, *, by: str) -> str:
    """Queue the submission (flushes; the caller commits). `by` is merchant or automatic.
    Returns the new submission status; raises SubmissionError when it cannot be sent."""
    if dispute.status not in OPEN_STATUSES or dispute.status == "under_review":
        raise SubmissionError("not_open", f"the dispute is {dispute.status}: evidence can no longer be sent")
    if dispute.submission_status not in QUEUEABLE:
        raise SubmissionError("already", f"the evidence is already {dispute.submission_status}")
    if dispute.evidence_due_by is not None and dispute.evidence_due_by < utcnow():
        raise SubmissionError("past_due", "the evidence deadline has passed")
    pack = packs.build(session, dispute, shop=shop)
    if by == "automatic" and not pack.complete:
        if dispute.submission_status != "held":
            dispute.submission_status = "held"
            record(session, shop, dispute, "dispute.submission_held",
                   {"missing": [e.key for e in pack.missing], "by": by})
        return "held"
    dispute.submission_status, dispute.submitted_by, dispute.submission_error = "queued", by, None
    record(session, shop, dispute, "dispute.submission_queued",
           {"by": by, "complete": pack.complete, "missing": [e.key for e in pack.missing]})
    enqueue(session, SUBMIT_TASK, dispute.id)
    session.flush()
    return "queued"


def evidence_input(pack: packs.Pack, text: str) -> dict[str, Any]:
    """The text fields Shopify's evidence takes, from the pack's present elements only."""
    fields: dict[str, Any] = {"uncategorizedText": text}
    visits = pack.element("status_visits")
    if visits and visits.present:
        fields["accessActivityLog"] = visits.summary
    policy = pack.element("return_policy")
    if policy and policy.present:
        fields["refundPolicyDisclosure"] = policy.summary
    cancellation = pack.element("cancellation")
    if pack.family == reasons.CREDIT and cancellation and cancellation.present:
        fields["cancellationRebuttal"] = cancellation.summary
    return fields


@dataclass
class _Attempt:
    dispute_id: int
    number: int
    shop_id: int
    shop_domain: str
    external_id: str
    fields: dict[str, Any]
    pdf: bytes | None = None

    @property
    def pdf_name(self) -> str:
        # Scheme-safe: short, ASCII letters and digits only (Mastercom: at most 16 characters).
        return f"DG{''.join(ch for ch in self.external_id if ch.isalnum())[-10:]}.pdf"

    @property
    def dispute_gid(self) -> str:
        return f"gid://shopify/ShopifyPaymentsDispute/{self.external_id}"

    @property
    def evidence_gid(self) -> str:
        # Shopify's evidence object of a dispute carries the dispute's own number.
        return f"gid://shopify/ShopifyPaymentsDisputeEvidence/{self.external_id}"


@dataclass
class _Result:
    kind: str  # submitted | found | rejected | temporary
    calls: list[Call] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    error: str | None = None


def _lock(session: Session, dispute_id: int) -> Dispute | None:
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        return None
    if dispute.order_id is not None:
        # The order first: the lock order of every writer that appends the order's evidence.
        return exactly_once.lock_with_order(session, Dispute, dispute_id)[1]
    return session.get(Dispute, dispute_id, with_for_update=True, populate_existing=True)


def _fail(session: Session, shop: Shop, dispute: Dispute, error: str, data: dict[str, Any]) -> str:
    dispute.submission_status, dispute.submission_error = "failed", error[:1000]
    record(session, shop, dispute, "dispute.submission_refused", {"error": error[:500], **data})
    return "failed"


def _begin(session: Session, dispute_id: int) -> _Attempt | str:
    dispute = _lock(session, dispute_id)
    if dispute is None:
        return "missing"
    # "submitting": an attempt that never finished (its worker died); the read below settles it.
    if dispute.submission_status not in ("queued", "submitting"):
        return dispute.submission_status
    shop = session.get(Shop, dispute.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "dispute_submission", dispute.id,
                                            order_id=dispute.order_id):
        return skipped
    if dispute.submission_attempts >= MAX_ATTEMPTS:
        return _fail(session, shop, dispute, f"the store did not answer after {dispute.submission_attempts} attempts",
                     {})
    pack = packs.build(session, dispute, shop=shop)
    text = narrative.current(pack)
    fields = evidence_input(pack, text)
    pdf = None
    if attaches_files():
        rendered = document.render(session, pack, text)
        pdf = rendered.data if rendered.within_limits else None
    dispute.submission_attempts += 1
    dispute.submission_status = "submitting"
    record(session, shop, dispute, "dispute.submission_attempt",
           {"attempt": dispute.submission_attempts, "fields": sorted(fields),
            "text_sha256": hashlib.sha256(text.encode()).hexdigest(), "complete": pack.complete,
            "file_sha256": hashlib.sha256(pdf).hexdigest() if pdf else None, "file_bytes": len(pdf) if pdf else None},
           personal={"fields": fields})
    return _Attempt(dispute_id=dispute.id, number=dispute.submission_attempts, shop_id=shop.id,
                    shop_domain=shop.domain, external_id=dispute.external_id, fields=fields, pdf=pdf)


def _call(attempt: _Attempt, transport: httpx.BaseTransport | None) -> _Result:
    result = _Result("temporary")
    try:
        token = tokens.access_token_for(attempt.shop_id, transport=transport)
        with AdminClient(shop_domain=attempt.shop_domain, access_token=token, shop_id=attempt.shop_id,
                         transport=transport, retries=0, throttle_retries=3) as client:
            result.calls = client.calls
            node = client.query(READ, {"id": attempt.dispute_gid}).get("dispute")
            if node is None:
                return _Result("rejected", result.calls, ["DISPUTE_EVIDENCE_NOT_FOUND"], "the store has no such dispute")
            if (node.get("disputeEvidence") or {}).get("submitted"):
                return _Result("found", result.calls)
            fields = {**attempt.fields, "submitEvidence": True}
            if attempt.pdf is not None:
                source, problem = _stage(client, attempt, transport, result.calls)
                if problem:
                    return _Result("rejected", result.calls, ["FILE_NOT_FOUND"], problem)
                fields["uploadedFiles"] = [{"disputeEvidenceFileType": "RESPONSE_SUMMARY_FILE",
                                            "originalFileName": attempt.pdf_name, "originalSource": source}]
            payload = client.mutate(UPDATE, {"id": attempt.evidence_gid, "input": fields}, raise_user_errors=False)
            errors = payload.get("userErrors") or []
            if errors:
                return _Result("rejected", result.calls, [str(e.get("code") or "INVALID") for e in errors],
                               "; ".join(str(e.get("message")) for e in errors)[:500])
            if not (payload.get("disputeEvidence") or {}).get("submitted"):
                return _Result("rejected", result.calls, ["INVALID"], "the store did not mark the evidence submitted")
            return _Result("submitted", result.calls)
    except (AdminTemporaryError, tokens.TokenTemporaryError) as error:
        return _Result("temporary", result.calls, error=str(getattr(error, "message", error)))
    except (AdminError, tokens.TokenError) as error:
        return _Result("rejected", result.calls, ["INVALID"], str(getattr(error, "message", error)))


def _stage(client: AdminClient, attempt: _Attempt, transport: httpx.BaseTransport | None,
           calls: list[Call]) -> tuple[str | None, str | None]:
    """Stage the PDF (stagedUploadsCreate, DISPUTE_FILE_UPLOAD) and upload its bytes; returns the
    source to attach, or why it could not be staged."""
    payload = client.mutate(STAGE, {"input": [{"filename": attempt.pdf_name, "mimeType": "application/pdf",
                                               "resource": "DISPUTE_FILE_UPLOAD", "fileSize": str(len(attempt.pdf)),
                                               "httpMethod": "PUT"}]}, raise_user_errors=False)
    targets = payload.get("stagedTargets") or []
    if payload.get("userErrors") or not targets:
        return None, "; ".join(str(e.get("message")) for e in payload.get("userErrors") or []) or "no upload target"
    target = targets[0]
    started = time.perf_counter()
    try:
        with httpx.Client(transport=transport, timeout=30) as http:
            response = http.put(target["url"], content=attempt.pdf, headers={"Content-Type": "application/pdf"})
    except httpx.HTTPError as error:
        calls.append(Call("PUT", "staged upload", None, int((time.perf_counter() - started) * 1000), str(error)))
        raise AdminTemporaryError(f"the file upload failed: {error}") from None
    calls.append(Call("PUT", "staged upload", response.status_code, int((time.perf_counter() - started) * 1000)))
    if response.status_code >= 500:
        raise AdminTemporaryError(f"the file upload answered {response.status_code}")
    if response.status_code >= 400:
        return None, f"the file upload was refused ({response.status_code})"
    return target.get("resourceUrl") or target["url"], None


def _finish(session: Session, attempt: _Attempt, result: _Result) -> str:
    dispute = _lock(session, attempt.dispute_id)
    shop = session.get(Shop, dispute.shop_id)
    calls = [call.as_data() for call in result.calls]
    if result.kind in ("submitted", "found"):
        dispute.submission_status, dispute.submitted_at, dispute.submission_error = "submitted", utcnow(), None
        dispute.evidence_sent_on = dispute.evidence_sent_on or dispute.submitted_at
        record(session, shop, dispute, "dispute.submitted",
               {"attempt": attempt.number, "via": "answer" if result.kind == "submitted" else "lookup",
                "by": dispute.submitted_by})
        return "submitted"
    if result.kind == "rejected":
        return _fail(session, shop, dispute, f"{', '.join(result.codes)}: {result.error}",
                     {"attempt": attempt.number, "codes": result.codes, "calls": calls})
    dispute.submission_status, dispute.submission_error = "queued", result.error
    record(session, shop, dispute, "dispute.submission_failed",
           {"attempt": attempt.number, "error": (result.error or "")[:500], "calls": calls})
    return "retry"


def submit(dispute_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Send one queued submission. Raises SubmissionBusy / RetryLater (the task retries)."""
    outcome, result = exactly_once.carry_out(
        exactly_once.DISPUTE_EVIDENCE, dispute_id, begin=lambda session: _begin(session, dispute_id),
        call=lambda attempt: _call(attempt, transport), finish=_finish,
        busy=lambda: SubmissionBusy(f"dispute {dispute_id} is being submitted by another task"),
    )
    if outcome == "retry":
        raise RetryLater(result.error or "temporary store error")
    return outcome


def auto_submit_due(*, limit: int = 200) -> int:
    """The sweep: complete packs of open disputes whose deadline is within the configured days are
    queued; incomplete ones are held back (recorded once). Returns how many were queued."""
    days = get_settings().dispute_auto_submit_days
    if days <= 0:
        return 0
    queued = 0
    with session_scope() as session:
        ids = list(session.scalars(
            select(Dispute.id).where(Dispute.status == "needs_response", Dispute.submission_status.in_(("none", "held")),
                                     Dispute.evidence_due_by > utcnow(),
                                     Dispute.evidence_due_by <= utcnow() + timedelta(days=days))
            .order_by(Dispute.evidence_due_by).limit(limit)
        ))
    for dispute_id in ids:
        with session_scope() as session:
            dispute = session.get(Dispute, dispute_id, with_for_update=True)
            shop = session.get(Shop, dispute.shop_id)
            if not shop.is_installed or dispute.submission_status not in ("none", "held"):
                continue
            try:
                queued += request(session, shop, dispute, by="automatic") == "queued"
            except SubmissionError as error:
                log.info("disputes.auto_submit_skipped", extra={"dispute_id": dispute_id, "reason": error.code})
    return queued
