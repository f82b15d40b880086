"""Recording inbound webhooks (the hot path) and processing them from the inbox (in a worker)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import canonical

# Topics this build acts on; every other topic is recorded and acknowledged for later use.
# Privacy duties outlive the installation (shop/redact arrives 48 h after app/uninstalled): these
# are queued for any shop we know, installed or not. A shop we never knew stays unknown_shop.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
PROCESSED_TOPICS = (
    frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "app/uninstalled"})
    | frozenset({"refunds/create", "disputes/create", "disputes/update"})
    | frozenset({"app/scopes_update"})
    | COMPLIANCE_TOPICS
)
PROCESS_TASK = "webhooks.process_delivery"

# One round trip records a batch of deliveries: each delivery row, its evidence event and its
# outbox row, or nothing at all for a duplicate. The evidence digests are computed in Python
# beforehand (canonical JSON); the chain links are set by the ledger trigger. Rows are written in
# (shop, event id) order, so concurrent batches take the unique-key and chain locks in the same
# order and cannot deadlock each other; a duplicate within one batch is skipped like any other.
_RECORD_BATCH = text(
    """
    WITH given AS (
        SELECT * FROM unnest(
            CAST(:domain AS text[]), CAST(:topic AS text[]), CAST(:event_id AS text[]),
            CAST(:webhook_id AS text[]), CAST(:api_version AS text[]),
            CAST(:triggered_at AS timestamptz[]), CAST(:payload AS text[]), CAST(:processed AS boolean[]),
            CAST(:any_status AS boolean[]), CAST(:occurred_at AS timestamptz[]), CAST(:data AS text[]),
            CAST(:digest AS text[])
        ) WITH ORDINALITY AS i(domain, topic, event_id, webhook_id, api_version, triggered_at,
                                payload, processed, any_status, occurred_at, data, digest, position)
    ), input AS (
        -- One row per event: the first of two deliveries of one event in a batch is the one kept.
        SELECT DISTINCT ON (domain, event_id) * FROM given ORDER BY domain, event_id, position
    ), delivery AS (
        INSERT INTO webhook_deliveries
            (source, shop_domain, shop_id, topic, event_id, webhook_id, api_version, triggered_at,
             payload, status)
        SELECT 'shopify', input.domain, shops.id, input.topic, input.event_id, input.webhook_id,
               input.api_version, input.triggered_at, CAST(input.payload AS jsonb),
               CASE WHEN shops.id IS NULL THEN 'unknown_shop'
                    WHEN input.processed THEN 'queued' ELSE 'stored' END
        FROM input
        LEFT JOIN shops ON shops.domain = input.domain
            AND (shops.status = 'installed' OR input.any_status)
        ORDER BY input.domain, input.event_id
        ON CONFLICT (source, shop_domain, event_id) DO NOTHING
        RETURNING id, shop_id, status, shop_domain, event_id
    ), evidence AS (
        INSERT INTO evidence_events
            (chain, shop_id, kind, source, occurred_at, data, digest, webhook_delivery_id)
        SELECT delivery.shop_domain, delivery.shop_id, 'webhook.received', 'shopify',
               input.occurred_at, CAST(input.data AS jsonb), input.digest, delivery.id
        FROM delivery
        JOIN input ON input.domain = delivery.shop_domain AND input.event_id = delivery.event_id
        ORDER BY delivery.shop_domain, delivery.event_id
        RETURNING webhook_delivery_id
    ), work AS (
        INSERT INTO outbox (task_name, args, queue)
        SELECT :task, jsonb_build_array(delivery.id), 'ingest' FROM delivery
        WHERE delivery.status = 'queued'
        ORDER BY delivery.id
        RETURNING id
    )
    SELECT delivery.shop_domain, delivery.event_id, delivery.id, delivery.status,
           (SELECT count(*) FROM evidence) AS evidence, (SELECT count(*) FROM work) AS work
    FROM delivery
    """
)
# The same statement in psycopg's own parameter style, for the event-loop path (app/aio.py), with
# every parameter sent in binary: psycopg builds text-format array literals in Python, escaping each
# quote of each payload with a regular expression, which cost 1.1 ms per delivery; binary arrays
# need no escaping (about 20 us).
_RECORD_BATCH_PSYCOPG = re.sub(
    r"%\((\w+)\)s", r"%(\1)b", str(_RECORD_BATCH.compile(dialect=psycopg_dialect.dialect()))
)


@dataclass(frozen=True)
class IngestResult:
    delivery_id: int | None
    status: str  # queued | stored | unknown_shop | duplicate

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"


@dataclass(frozen=True)
class InboundDelivery:
    """A verified Shopify webhook, as the ingest route hands it over."""

    shop_domain: str
    topic: str
    event_id: str
    webhook_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    body: bytes


def _batch_params(deliveries: Sequence[InboundDelivery]) -> dict[str, object]:
    columns: dict[str, list[object]] = {
        name: [] for name in (
            "domain", "topic", "event_id", "webhook_id", "api_version", "triggered_at", "payload",
            "processed", "any_status", "occurred_at", "data", "digest",
        )
    }
    for delivery in deliveries:
        occurred_at = delivery.triggered_at or utcnow()
        data = {
            "topic": delivery.topic,
            "event_id": delivery.event_id,
            "webhook_id": delivery.webhook_id,
            "api_version": delivery.api_version,
            "triggered_at": canonical.iso(delivery.triggered_at) if delivery.triggered_at else None,
            "body_sha256": hashlib.sha256(delivery.body).hexdigest(),
            "body_bytes": len(delivery.body),
            "hmac": "verified",
        }
        digest = canonical.content_digest(
            chain=delivery.shop_domain,
            kind="webhook.received",
            source="shopify",
            order_id=None,
            occurred_at=occurred_at,
            data=data,
            personal_digest=None,
        )
        row = {
            "domain": delivery.shop_domain,
            "topic": delivery.topic,
            "event_id": delivery.event_id,
            "webhook_id": delivery.webhook_id,
            "api_version": delivery.api_version,
            "triggered_at": delivery.triggered_at,
            "payload": delivery.body.decode("utf-8"),
            "processed": delivery.topic in PROCESSED_TOPICS,
            "any_status": delivery.topic in COMPLIANCE_TOPICS,
            "occurred_at": occurred_at,
            "data": json.dumps(data),
            "digest": digest,
        }
        for name, value in row.items():
            columns[name].append(value)
    return {**columns, "task": PROCESS_TASK}


def _results(deliveries: Sequence[InboundDelivery], rows: Iterable[Any]) -> list[IngestResult]:
    # A delivery whose row came back was recorded by this batch; the first of two deliveries with
    # the same event id in one batch gets it, the second (and any already stored) is a duplicate.
    stored = {(row.shop_domain, row.event_id): row for row in rows}
    results = []
    for delivery in deliveries:
        row = stored.pop((delivery.shop_domain, delivery.event_id), None)
        results.append(
            IngestResult(delivery_id=None, status="duplicate")
            if row is None
            else IngestResult(delivery_id=row.id, status=row.status)
        )
    return results


def record_shopify_delivery(session: Session | Connection, delivery: InboundDelivery) -> IngestResult:
    """Record one verified delivery with the ingest statement, inside the caller's transaction
    (tests and scripts; the route records through app/webhooks/batching.py). Duplicates change
    nothing."""
    [result] = _results([delivery], session.execute(_RECORD_BATCH, _batch_params([delivery])))
    return result


async def record_shopify_deliveries_async(
    connection: AsyncConnection, deliveries: Sequence[InboundDelivery]
) -> list[IngestResult]:
    """The same statement on an autocommit event-loop connection (the ingest route's path)."""
    async with connection.cursor(row_factory=namedtuple_row) as cursor:
        await cursor.execute(_RECORD_BATCH_PSYCOPG, _batch_params(deliveries))
        return _results(deliveries, await cursor.fetchall())
