"""Privacy duties: customer data requests, customer redaction (held while a dispute needs the data),
shop erasure, and what the merchant sees of them. Compliance webhooks land here from processing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.disputes import service as disputes
from app.evidence import service as evidence
from app.outbox.service import enqueue
from app.privacy import erasure, exports, redaction, subjects
from app.privacy.models import PrivacyRequest
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)

# An export holds the customer's personal data: the merchant has this long to download it.
EXPORT_RETENTION_DAYS = 30
ERASE_TASK = "privacy.erase_shop"
LIST_LIMIT = 100


def _record(session: Session, shop: Shop, kind: str, data: dict, *, delivery_id: int | None = None) -> None:
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        kind=kind,
        source="dropguard",
        data=data,
        webhook_delivery_id=delivery_id,
    )


def _external_request_id(payload: dict) -> str | None:
    request = payload.get("data_request")
    if isinstance(request, dict) and request.get("id") is not None:
        return str(request["id"])[:64]
    return None


def on_data_request(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    """customers/data_request: build the export now and keep it for the merchant to download."""
    subject = subjects.find(session, shop, delivery.payload)
    now = utcnow()
    request = PrivacyRequest(
        shop_id=shop.id,
        kind="customer_data_request",
        status="pending",
        delivery_id=delivery.id,
        customer_id=subject.customer_ids[0] if subject.customers else None,
        external_request_id=_external_request_id(delivery.payload),
    )
    session.add(request)
    session.flush()
    document = exports.build(
        session,
        shop,
        subject,
        request={
            "id": request.id,
            "data_request_id": request.external_request_id,
            "received_at": delivery.received_at,
            "orders_requested": delivery.payload.get("orders_requested") or [],
        },
    )
    body = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    request.export, request.export_sha256 = document, hashlib.sha256(body).hexdigest()
    request.export_expires_at = now + timedelta(days=EXPORT_RETENTION_DAYS)
    request.status, request.completed_at = "done", now
    _record(
        session,
        shop,
        "privacy.data_request_fulfilled",
        {
            "request_id": request.id,
            "data_request_id": request.external_request_id,
            "customers": len(document["customers"]),
            "orders": len(document["orders"]),
            "evidence_events": len(document["evidence_events"]),
            "webhook_payloads": len(document["webhook_payloads"]),
            "export_sha256": request.export_sha256,
            "export_bytes": len(body),
            "expires_at": request.export_expires_at,
        },
        delivery_id=delivery.id,
    )
    session.flush()


def _hold_reason(open_disputes: list) -> str:
    listed = ", ".join(f"{d.external_id} ({d.status.replace('_', ' ')})" for d in open_disputes)
    return (
        f"held while dispute {listed} is open: the order's delivery evidence is needed to contest it "
        "(legal claims); redacted automatically when the dispute closes"
    )


def _carry_out(session: Session, shop: Shop, request: PrivacyRequest, subject: subjects.Subject) -> None:
    report = redaction.redact(session, shop, subject, request)
    request.status, request.completed_at, request.reason = "done", utcnow(), None
    _record(session, shop, "privacy.customer_redacted", {"request_id": request.id, **report.as_data()})
    session.flush()


def on_customer_redact(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    """customers/redact: redact now, or hold while an open dispute on their orders needs the data."""
    subject = subjects.find(session, shop, delivery.payload)
    request = PrivacyRequest(
        shop_id=shop.id,
        kind="customer_redact",
        status="pending",
        delivery_id=delivery.id,
        customer_id=subject.customer_ids[0] if subject.customers else None,
    )
    session.add(request)
    session.flush()
    open_disputes = disputes.open_for_orders(session, shop, subject.order_ids)
    if open_disputes:
        request.status, request.reason = "held", _hold_reason(open_disputes)
        _record(
            session,
            shop,
            "privacy.redaction_held",
            {
                "request_id": request.id,
                "disputes": [d.id for d in open_disputes],
                "orders": subject.order_ids,
            },
            delivery_id=delivery.id,
        )
        session.flush()
        return
    _carry_out(session, shop, request, subject)


def release_held(session: Session, *, limit: int = 50) -> int:
    """Carry out held redactions whose disputes have all closed (beat). Returns how many ran."""
    held = session.scalars(
        select(PrivacyRequest)
        .where(PrivacyRequest.kind == "customer_redact", PrivacyRequest.status == "held")
        .order_by(PrivacyRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    released = 0
    for request in held:
        shop = session.get(Shop, request.shop_id)
        delivery = session.get(WebhookDelivery, request.delivery_id) if request.delivery_id else None
        if shop is None or delivery is None:
            continue
        subject = subjects.find(session, shop, delivery.payload)
        still_open = disputes.open_for_orders(session, shop, subject.order_ids)
        if still_open:
            request.reason = _hold_reason(still_open)
            continue
        _record(session, shop, "privacy.redaction_released", {"request_id": request.id})
        _carry_out(session, shop, request, subject)
        released += 1
    return released


def purge_expired_exports(session: Session) -> int:
    result = session.execute(
        update(PrivacyRequest)
        .where(PrivacyRequest.export.is_not(None), PrivacyRequest.export_expires_at < utcnow())
        .values(export=None, reason="export expired")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def on_shop_redact(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    """shop/redact: erase the shop in its own task (the delivery recording it is erased too)."""
    if shop.is_installed:
        # The merchant reinstalled within the 48 hours: their data is in use again.
        _record(
            session,
            shop,
            "privacy.shop_redact_ignored",
            {"reason": "the shop is installed"},
            delivery_id=delivery.id,
        )
        return
    _record(session, shop, "privacy.shop_erasure_scheduled", {}, delivery_id=delivery.id)
    enqueue(session, ERASE_TASK, shop.id)


def erase_shop(session: Session, shop_id: int) -> str:
    shop = session.scalar(select(Shop).where(Shop.id == shop_id).with_for_update())
    if shop is None:
        return "gone"
    if shop.is_installed:
        _record(session, shop, "privacy.shop_redact_ignored", {"reason": "the shop is installed"})
        return "installed"
    erasure.erase(session, shop_id=shop.id, domain=shop.domain)
    return "erased"


def requests_for_shop(session: Session, shop: Shop, *, limit: int = LIST_LIMIT) -> list[PrivacyRequest]:
    return list(
        session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.shop_id == shop.id)
            .order_by(PrivacyRequest.id.desc())
            .limit(limit)
        )
    )


def export_for_shop(session: Session, shop: Shop, request_id: int) -> PrivacyRequest | None:
    """The export only if it is this shop's: another shop's id looks exactly like a missing one."""
    return session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.id == request_id,
            PrivacyRequest.shop_id == shop.id,
            PrivacyRequest.kind == "customer_data_request",
        )
    )
