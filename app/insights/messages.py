"""Customer messages: recording them, classifying them (the analytics queue), and the merchant's
corrections, which retrain that shop's model and no other.

A shop's model is the shipped set plus the shop's corrections; it is trained on first use and kept
per process, keyed by the shop's corrections (count and newest), so a new correction means a new
model at the next message and another shop's corrections never reach it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.insights import classifier
from app.insights.models import CustomerMessage
from app.insights.refresh import order_changed
from app.outbox.service import enqueue
from app.shops.models import Shop

CLASSIFY_TASK = "insights.classify_message"
SOURCES = ("claim", "contact_form", "email")
MAX_BODY = classifier.MAX_TEXT
_CACHED_SHOPS = 32


class BadMessage(AppError):
    code = "bad_message"


_lock = threading.Lock()
_shop_models: OrderedDict[int, tuple[tuple[int, datetime | None], classifier.ComplaintModel]] = OrderedDict()


def _corrections_version(session: Session, shop_id: int) -> tuple[int, datetime | None]:
    count, newest = session.execute(
        select(func.count(), func.max(CustomerMessage.corrected_at))
        .where(CustomerMessage.shop_id == shop_id, CustomerMessage.corrected_at.is_not(None),
               CustomerMessage.body.is_not(None))
    ).one()
    return int(count), newest


def model_for(session: Session, shop_id: int) -> classifier.ComplaintModel:
    version = _corrections_version(session, shop_id)
    if version[0] == 0:
        return classifier.base_model()
    with _lock:
        cached = _shop_models.get(shop_id)
        if cached and cached[0] == version:
            _shop_models.move_to_end(shop_id)
            return cached[1]
    corrections = [
        classifier.LabelledText(body, reason or "other", bool(urgent))
        for body, reason, urgent in session.execute(
            select(CustomerMessage.body, CustomerMessage.corrected_reason,
                   func.coalesce(CustomerMessage.corrected_urgent, CustomerMessage.urgent))
            .where(CustomerMessage.shop_id == shop_id, CustomerMessage.corrected_at.is_not(None),
                   CustomerMessage.body.is_not(None))
            .order_by(CustomerMessage.id)
        )
    ]
    model = classifier.train(corrections=corrections)
    with _lock:
        _shop_models[shop_id] = (version, model)
        while len(_shop_models) > _CACHED_SHOPS:
            _shop_models.popitem(last=False)
    return model


def model_name(session: Session, shop_id: int) -> str:
    count, _ = _corrections_version(session, shop_id)
    return f"base-{len(classifier.REASONS)}r+{count}c"


def clean_text(text: object, *, field: str = "text") -> str:
    if not isinstance(text, str):
        raise BadMessage(f"{field} must be a string")
    cleaned = text.replace("\x00", "").strip()
    if not cleaned:
        raise BadMessage(f"{field} is empty")
    if len(cleaned) > MAX_BODY:
        raise BadMessage(f"{field} is longer than {MAX_BODY} characters")
    return cleaned


def classify_text(session: Session, shop: Shop, text: str) -> classifier.Classification:
    return model_for(session, shop.id).classify(clean_text(text))


def record(
    session: Session,
    shop: Shop,
    *,
    source: str,
    source_ref: str,
    body: str,
    order_id: int | None,
    received_at: datetime | None = None,
    subject: str | None = None,
    evidence_kind: str | None = None,
    personal: dict | None = None,
) -> CustomerMessage | None:
    """Store one message (unclassified) and enqueue its classification; a message already stored
    under the same source reference is not stored again (None). Flushes; the caller commits."""
    if source not in SOURCES:
        raise ValueError(f"unknown message source {source!r}")
    # The channel that brought the message checked it already; a long one is kept to what is read.
    body = body.replace("\x00", "").strip()[:MAX_BODY]
    if not body:
        return None
    existing = session.scalar(select(CustomerMessage.id).where(
        CustomerMessage.shop_id == shop.id, CustomerMessage.source == source, CustomerMessage.source_ref == source_ref))
    # The same words about the same order within a day are one message: a form sent twice, or a
    # claim opened on the customer's behalf from the message that asked for it.
    if existing is None and order_id is not None:
        existing = session.scalar(select(CustomerMessage.id).where(
            CustomerMessage.shop_id == shop.id, CustomerMessage.order_id == order_id, CustomerMessage.body == body,
            CustomerMessage.received_at >= (received_at or utcnow()) - timedelta(days=1)).limit(1))
    if existing is not None:
        return None
    message = CustomerMessage(
        shop_id=shop.id, order_id=order_id, source=source, source_ref=source_ref[:255],
        subject=(subject or None) and subject[:512], body=body,
        received_at=received_at or utcnow(),
    )
    session.add(message)
    session.flush()
    if evidence_kind:
        evidence.record(
            session, chain=shop.domain, shop_id=shop.id, order_id=order_id, kind=evidence_kind, source="customer",
            occurred_at=message.received_at,
            data={"message_id": message.id, "source": source,
                  "body_sha256": hashlib.sha256(message.body.encode()).hexdigest(), "body_chars": len(message.body)},
            personal={"body": message.body, "subject": message.subject, **(personal or {})},
        )
    enqueue(session, CLASSIFY_TASK, message.id)
    return message


def classify_stored(session: Session, message_id: int) -> str:
    """The analytics-queue task: classify one stored message, once. Safe to run twice."""
    message = session.scalar(select(CustomerMessage).where(CustomerMessage.id == message_id).with_for_update())
    if message is None or message.body is None:
        return "skipped"
    if message.classified_at is not None:
        return "already"
    shop = session.get(Shop, message.shop_id)
    result = model_for(session, shop.id).classify(message.body)
    message.reason, message.urgent, message.language = result.reason, result.urgent, result.language
    message.confidence, message.because = round(result.confidence, 4), list(result.because)
    message.model, message.classified_at = model_name(session, shop.id), utcnow()
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, order_id=message.order_id, kind="insights.message_classified",
        source="dropguard",
        data={"message_id": message.id, "source": message.source, "reason": result.reason, "urgent": result.urgent,
              "language": result.language, "confidence": message.confidence, "model": message.model},
    )
    outcome = "classified"
    if result.urgent:
        from app.insights import escalation  # it imports the resolution service, which imports this module

        outcome = "urgent:" + escalation.on_urgent(session, shop, message, result.reason)
    if message.order_id is not None:
        order_changed(session, message.order_id)
    session.flush()
    return outcome


def correct(session: Session, shop: Shop, message_id: int, *, reason: str, urgent: bool) -> CustomerMessage:
    """The merchant's correction: kept next to the model's answer and used for this shop's model."""
    if reason not in classifier.REASONS:
        raise BadMessage(f"reason must be one of {', '.join(classifier.REASONS)}")
    message = session.scalar(select(CustomerMessage).where(
        CustomerMessage.id == message_id, CustomerMessage.shop_id == shop.id).with_for_update())
    if message is None:
        from app.errors import NotFound

        raise NotFound("no such message")
    message.corrected_reason, message.corrected_urgent, message.corrected_at = reason, urgent, utcnow()
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, order_id=message.order_id, kind="insights.message_corrected",
        source="merchant",
        data={"message_id": message.id, "reason": reason, "urgent": urgent,
              "model_reason": message.reason, "model_urgent": message.urgent},
    )
    if message.order_id is not None:
        order_changed(session, message.order_id)
    session.flush()
    return message


def effective(message: CustomerMessage) -> tuple[str | None, bool | None]:
    """The merchant's word where given, else the model's."""
    reason = message.corrected_reason or message.reason
    urgent = message.corrected_urgent if message.corrected_urgent is not None else message.urgent
    return reason, urgent


def recent(session: Session, shop_id: int, *, limit: int = 100, urgent_only: bool = False) -> list[CustomerMessage]:
    query = select(CustomerMessage).where(CustomerMessage.shop_id == shop_id)
    if urgent_only:
        query = query.where(func.coalesce(CustomerMessage.corrected_urgent, CustomerMessage.urgent).is_(True))
    return list(session.scalars(query.order_by(CustomerMessage.received_at.desc(), CustomerMessage.id.desc())
                                .limit(limit)))


def urgent_exists(shop_id: int, order_id_column: Any) -> Any:
    """A SQL condition: the order named by `order_id_column` has an urgent message (queues sort by it)."""
    return (
        select(CustomerMessage.id)
        .where(CustomerMessage.shop_id == shop_id, CustomerMessage.order_id == order_id_column,
               func.coalesce(CustomerMessage.corrected_urgent, CustomerMessage.urgent).is_(True))
        .exists()
    )


def urgent_order_ids(session: Session, shop_id: int, order_ids: list[int]) -> set[int]:
    """Which of these orders have an urgent message (the merchant's queues raise them)."""
    if not order_ids:
        return set()
    return set(session.scalars(
        select(CustomerMessage.order_id).where(
            CustomerMessage.shop_id == shop_id, CustomerMessage.order_id.in_(order_ids),
            func.coalesce(CustomerMessage.corrected_urgent, CustomerMessage.urgent).is_(True))
    ))


def for_orders(session: Session, shop_id: int, order_ids: list[int]) -> list[CustomerMessage]:
    if not order_ids:
        return []
    return list(session.scalars(
        select(CustomerMessage).where(CustomerMessage.shop_id == shop_id, CustomerMessage.order_id.in_(order_ids))
        .order_by(CustomerMessage.id)))


def export_for_orders(session: Session, shop_id: int, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The customer's messages for a data request, by order."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for m in for_orders(session, shop_id, order_ids):
        reason, urgent = effective(m)
        grouped.setdefault(m.order_id, []).append({
            "id": m.id, "source": m.source, "received_at": m.received_at, "subject": m.subject, "text": m.body,
            "reason": reason, "urgent": urgent, "language": m.language})
    return grouped


def redact_for_orders(session: Session, shop_id: int, order_ids: list[int]) -> int:
    """The customer's words go (and stop training the shop's model); the classification stays."""
    rows = for_orders(session, shop_id, order_ids)
    for row in rows:
        row.body = row.subject = None
    session.flush()
    return len(rows)
