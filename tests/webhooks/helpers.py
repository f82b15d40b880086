"""Queries and request builders shared by the spine's webhook tests (scoped to one shop each)."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import signed_headers


def signed(payload: Any, shop_domain: str, topic: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, signed_headers(body, shop_domain=shop_domain, topic=topic, **kwargs)


def deliveries(session: Session, domain: str) -> list[Any]:
    return session.execute(
        text("SELECT * FROM webhook_deliveries WHERE shop_domain = :d ORDER BY id"), {"d": domain}
    ).all()


def evidence(session: Session, chain: str, kind: str | None = None) -> list[Any]:
    return session.execute(
        text(
            "SELECT * FROM evidence_events WHERE chain = :c AND (CAST(:k AS text) IS NULL OR kind = :k)"
            " ORDER BY seq"
        ),
        {"c": chain, "k": kind},
    ).all()


def outbox_for_deliveries(session: Session, delivery_ids: list[int]) -> list[Any]:
    return session.execute(
        text(
            "SELECT * FROM outbox WHERE task_name = 'webhooks.process_delivery'"
            " AND (args->>0)::bigint = ANY(:ids) ORDER BY id"
        ),
        {"ids": delivery_ids},
    ).all()


def max_outbox_id(session: Session) -> int:
    return session.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()


def stray_webhook_outbox(session: Session, after_id: int, domain: str) -> list[Any]:
    """Webhook work written since `after_id` that does not belong to some other shop's delivery."""
    return session.execute(
        text(
            "SELECT o.* FROM outbox o WHERE o.id > :after AND o.task_name = 'webhooks.process_delivery'"
            " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d"
            "                 WHERE d.id = (o.args->>0)::bigint AND d.shop_domain <> :d)"
        ),
        {"after": after_id, "d": domain},
    ).all()


def webhook_counter(metrics_text: str, *, topic: str, outcome: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "dropguard_webhooks":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "dropguard_webhooks_total"
                and labels.get("source") == "shopify"
                and labels.get("topic") == topic
                and labels.get("outcome") == outcome
            ):
                return sample.value
    return 0.0
