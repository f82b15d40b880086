"""customers/redact: the customer's personal data removed from every table, the ledger included.

Three passes, from the most to the least precise:
1. the known personal columns of the customer's rows (customer, delivery addresses) are nulled;
2. the store's webhook payloads that name the customer are rewritten without their personal
   fields and strings, and the personal part of their evidence events is removed through the
   ledger's sanctioned path (digests kept, so the chain still verifies);
3. every other text and jsonb column of the shop's rows, in any table (including tables added
   later by other domains), is searched for the customer's distinctive strings, which are replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, or_, select, text, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.orders.models import DeliveryAddress
from app.privacy import uploads
from app.privacy.models import PrivacyRequest
from app.privacy.subjects import Subject, deliveries
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

REDACTED = "[redacted]"

# Keys of the store's REST payloads whose whole value is personal data, wherever they appear.
PERSONAL_KEYS = frozenset(
    {
        "customer",
        "email",
        "contact_email",
        "phone",
        "shipping_address",
        "billing_address",
        "default_address",
        "addresses",
        "browser_ip",
        "client_details",
        "first_name",
        "last_name",
        "address1",
        "address2",
        "city",
        "zip",
        "company",
        "latitude",
        "longitude",
        "note",
        "note_attributes",
        "destination",
    }
)
# Tables the sweep leaves alone: the ledger has its own path; these hold no customer text.
_SWEEP_SKIP = frozenset({"evidence_events", "ledger_heads", "outbox", "alembic_version"})

_COLUMNS = text(
    """
    SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length
    FROM information_schema.columns c
    WHERE c.table_schema = current_schema()
      AND c.data_type IN ('text', 'character varying', 'jsonb', 'json')
      AND EXISTS (SELECT 1 FROM information_schema.columns s
                  WHERE s.table_schema = c.table_schema AND s.table_name = c.table_name
                    AND s.column_name = 'shop_id')
    ORDER BY c.table_name, c.ordinal_position
    """
)


@dataclass
class RedactionReport:
    customers: int = 0
    orders: int = 0
    addresses: int = 0
    payloads: int = 0
    evidence_events: int = 0
    exports: int = 0
    resolutions: int = 0
    swept: int = 0

    def as_data(self) -> dict[str, int]:
        return dict(self.__dict__)


def _scrub(value: Any, strings: list[str]) -> Any:
    """The payload without personal keys, and with any string naming the customer replaced."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in PERSONAL_KEYS and v not in (None, "", [], {}) else _scrub(v, strings))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, strings) for v in value]
    if isinstance(value, str):
        folded = value.casefold()
        for personal in strings:
            if personal == folded or (len(personal) >= 3 and personal in folded):
                return REDACTED
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sweep(session: Session, shop: Shop, subject: Subject) -> int:
    pattern, json_pattern = subject.pattern(), subject.json_pattern()
    if not pattern:
        return 0
    total = 0
    for table, column, data_type, max_length in session.execute(_COLUMNS).all():
        if table in _SWEEP_SKIP:
            continue
        col = _quote(column)
        if data_type in ("jsonb", "json"):
            replaced = f"CAST(regexp_replace(CAST({col} AS text), :pattern, :redacted, 'gi') AS {data_type})"
            where, bound = f"CAST({col} AS text) ~* :pattern", json_pattern
        else:
            replaced = f"regexp_replace({col}, :pattern, :redacted, 'gi')"
            if max_length:
                replaced = f"left({replaced}, {int(max_length)})"
            where, bound = f"{col} ~* :pattern", pattern
        result = session.execute(
            # Identifiers come from the database catalogue and are quoted; values are bound.
            text(f"UPDATE {_quote(table)} SET {col} = {replaced} WHERE shop_id = :shop_id AND {where}"),  # noqa: S608
            {"pattern": bound, "redacted": REDACTED, "shop_id": shop.id},
        )
        total += result.rowcount
    return total


def _payloads(session: Session, shop: Shop, subject: Subject, request: PrivacyRequest) -> int:
    ids = deliveries(session, shop, subject, extra_ids=[request.delivery_id] if request.delivery_id else None)
    strings = sorted({s.casefold() for s in subject.strings}, key=len, reverse=True)
    statement = text("UPDATE webhook_deliveries SET payload = CAST(:payload AS jsonb) WHERE id = :id")
    for delivery_id, payload in (
        session.execute(
            select(WebhookDelivery.id, WebhookDelivery.payload).where(WebhookDelivery.id.in_(ids))
        ).all()
        if ids
        else []
    ):
        session.execute(statement, {"id": delivery_id, "payload": json.dumps(_scrub(payload, strings))})
    # Instances already loaded (the delivery being processed) must not write their old payload back.
    for instance in list(session.identity_map.values()):
        if isinstance(instance, WebhookDelivery) and instance.id in ids:
            session.expire(instance, ["payload"])
    return len(ids)


def _evidence(session: Session, shop: Shop, subject: Subject) -> int:
    conditions = []
    if subject.order_ids:
        conditions.append(EvidenceEvent.order_id.in_(subject.order_ids))
    pattern = subject.json_pattern()
    if pattern:
        conditions.append(cast(EvidenceEvent.personal, String).op("~*")(pattern))
    if not conditions:
        return 0
    ids = list(
        session.scalars(
            select(EvidenceEvent.id).where(
                EvidenceEvent.chain == shop.domain, EvidenceEvent.personal.is_not(None), or_(*conditions)
            )
        )
    )
    return evidence.redact_personal(session, ids)


def _exports(session: Session, shop: Shop, subject: Subject) -> int:
    conditions = []
    if subject.customer_ids:
        conditions.append(PrivacyRequest.customer_id.in_(subject.customer_ids))
    pattern = subject.json_pattern()
    if pattern:
        conditions.append(cast(PrivacyRequest.export, String).op("~*")(pattern))
    if not conditions:
        return 0
    result = session.execute(
        update(PrivacyRequest)
        .where(PrivacyRequest.shop_id == shop.id, PrivacyRequest.export.is_not(None), or_(*conditions))
        .values(export=None, reason="export erased by a later customers/redact")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def redact(session: Session, shop: Shop, subject: Subject, request: PrivacyRequest) -> RedactionReport:
    """Carry out one customer's redaction (flushes; the caller commits with the request's status)."""
    report = RedactionReport(customers=len(subject.customers), orders=len(subject.orders))
    # Strings are collected before anything is nulled: the sweep and the payloads need them.
    report.payloads = _payloads(session, shop, subject, request)
    report.evidence_events = _evidence(session, shop, subject)
    report.exports = _exports(session, shop, subject)
    report.resolutions = uploads.redact(session, shop, subject.order_ids)
    now = utcnow()
    for customer in subject.customers:
        customer.email = customer.first_name = customer.last_name = customer.phone = None
        customer.redacted_at = now
        if customer.external_id.startswith("email:"):
            # An unsalted digest of an e-mail address is still personal data.
            customer.external_id = f"redacted:{customer.id}"
    if subject.order_ids:
        result = session.execute(
            update(DeliveryAddress)
            .where(DeliveryAddress.shop_id == shop.id, DeliveryAddress.order_id.in_(subject.order_ids))
            .values(name=None, company=None, address1=None, address2=None, city=None, zip=None, phone=None)
            .execution_options(synchronize_session="fetch")
        )
        report.addresses = result.rowcount
    session.flush()
    report.swept = _sweep(session, shop, subject)
    session.expire_all()
    return report
