"""Queries and request builders shared by the spine's webhook tests (scoped to one shop each)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.db import get_engine, get_sessionmaker
from app.migrate import alembic_config
from app.webhooks.service import InboundDelivery, record_shopify_delivery
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


def retire_outbox_after(outbox_id: int) -> None:
    """Mark the outbox rows written after `outbox_id` as dispatched. Deliveries a test records by
    the dozen only to count them would otherwise queue up ahead of the work of later modules'
    Celery workers (which relay every pending row of the run's database)."""
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE outbox SET dispatched_at = now() WHERE id > :id AND dispatched_at IS NULL"),
            {"id": outbox_id},
        )


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


def record_held(shop_domain: str, topic: str, payload: dict[str, Any]) -> int:
    """Record a verified delivery exactly as the route does, but keep its task unpublished.

    Its outbox row is marked dispatched in the same transaction, so that no relay of a
    session-wide server or worker can hand it to a worker that would race the test, which then
    drives processing itself by calling the task function.
    """
    body, headers = signed(payload, shop_domain, topic)
    with get_sessionmaker()() as session:
        result = record_shopify_delivery(
            session,
            InboundDelivery(
                shop_domain=shop_domain,
                topic=topic,
                event_id=headers["X-Shopify-Event-Id"],
                webhook_id=headers["X-Shopify-Webhook-Id"],
                api_version=headers["X-Shopify-API-Version"],
                triggered_at=datetime.now(UTC),
                body=body,
            ),
        )
        assert result.delivery_id is not None, result
        session.execute(
            text(
                "UPDATE outbox SET dispatched_at = now() WHERE task_name = 'webhooks.process_delivery'"
                " AND (args->>0)::bigint = :id"
            ),
            {"id": result.delivery_id},
        )
        session.commit()
        return result.delivery_id


@contextmanager
def temporary_database(*, migrated: bool) -> Iterator[str]:
    """A database of its own (URL yielded), dropped afterwards: for what must not share the run's."""
    server = make_url(os.environ["DROPGUARD_DATABASE_URL"])
    name = f"dropguard_tmp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            config = alembic_config()
            config.attributes["database_url"] = url
            command.upgrade(config, "head")
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
