"""Recording inbound webhooks (the hot path) and processing them from the inbox (in a worker)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import canonical

# Topics this build acts on; every other topic is recorded and acknowledged for later use.
# Privacy duties outlive the installation (shop/redact arrives 48 h after app/uninstalled): these
# are queued for any shop we know, installed or not. A shop we never knew stays unknown_shop.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
PROCESSED_TOPICS = (
    frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "app/uninstalled"})
    | frozenset({"disputes/create", "disputes/update"})
    | frozenset({"app/scopes_update"})
    | COMPLIANCE_TOPICS
)
PROCESS_TASK = "webhooks.process_delivery"

# One round trip records the delivery, appends its evidence event and writes its outbox row, or
# does nothing at all for a duplicate. The evidence digest is computed in Python beforehand
# (canonical JSON); the chain link is set by the ledger trigger.
_RECORD = text(
    """
    WITH shop AS (
        SELECT id FROM shops WHERE domain = :domain AND (status = 'installed' OR :any_status)
    ), delivery AS (
        INSERT INTO webhook_deliveries
            (source, shop_domain, shop_id, topic, event_id, webhook_id, api_version, triggered_at,
             payload, status)
        VALUES ('shopify', :domain, (SELECT id FROM shop), :topic, :event_id, :webhook_id,
                :api_version, :triggered_at, CAST(:payload AS jsonb),
                CASE WHEN NOT EXISTS (SELECT 1 FROM shop) THEN 'unknown_shop'
                     WHEN :processed THEN 'queued' ELSE 'stored' END)
        ON CONFLICT (source, shop_domain, event_id) DO NOTHING
        RETURNING id, shop_id, status
    ), evidence AS (
        INSERT INTO evidence_events
            (chain, shop_id, kind, source, occurred_at, data, digest, webhook_delivery_id)
        SELECT :domain, delivery.shop_id, 'webhook.received', 'shopify', :occurred_at,
               CAST(:data AS jsonb), :digest, delivery.id
        FROM delivery
        RETURNING id
    ), work AS (
        INSERT INTO outbox (task_name, args, queue)
        SELECT :task, jsonb_build_array(delivery.id), 'ingest' FROM delivery
        WHERE delivery.status = 'queued'
        RETURNING id
    )
    SELECT delivery.id, delivery.status, (SELECT count(*) FROM evidence) AS evidence,
           (SELECT count(*) FROM work) AS work
    FROM delivery
    """
)


@dataclass(frozen=True)
class IngestResult:
    delivery_id: int | None
    status: str  # queued | stored | unknown_shop | duplicate

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"


def record_shopify_delivery(
    session: Session | Connection,
    *,
    shop_domain: str,
    topic: str,
    event_id: str,
    webhook_id: str | None,
    api_version: str | None,
    triggered_at: datetime | None,
    body: bytes,
) -> IngestResult:
    """Record one verified delivery in a single statement; the caller commits (or runs it in
    autocommit). Duplicates change nothing."""
    occurred_at = triggered_at or utcnow()
    data = {
        "topic": topic,
        "event_id": event_id,
        "webhook_id": webhook_id,
        "api_version": api_version,
        "triggered_at": canonical.iso(triggered_at) if triggered_at else None,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_bytes": len(body),
        "hmac": "verified",
    }
    digest = canonical.content_digest(
        chain=shop_domain,
        kind="webhook.received",
        source="shopify",
        order_id=None,
        occurred_at=occurred_at,
        data=data,
        personal_digest=None,
    )
    row = session.execute(
        _RECORD,
        {
            "domain": shop_domain,
            "topic": topic,
            "event_id": event_id,
            "webhook_id": webhook_id,
            "api_version": api_version,
            "triggered_at": triggered_at,
            "payload": body.decode("utf-8"),
            "processed": topic in PROCESSED_TOPICS,
            "any_status": topic in COMPLIANCE_TOPICS,
            "occurred_at": occurred_at,
            "data": json.dumps(data),
            "digest": digest,
            "task": PROCESS_TASK,
        },
    ).one_or_none()
    if row is None:
        return IngestResult(delivery_id=None, status="duplicate")
    return IngestResult(delivery_id=row.id, status=row.status)
