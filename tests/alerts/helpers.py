"""Signed alert bodies as the provider sends them, and orders in every state the decision reads."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from app.alerts.models import PreDisputeAlert
from app.config import get_settings
from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.suppliers.signing import signed_headers


def alert_body(shop_domain: str, **overrides: Any) -> dict[str, Any]:
    return {"event": "alert.created", "id": f"alt_{uuid.uuid4().hex[:10]}", "type": "ethoca", "card_network": "visa",
            "shop": shop_domain, "order_reference": "#1001", "arn": "74000000000000000000001", "amount": "19.90",
            "currency": "USD", "reason": "not_received", "reason_code": "13.1",
            "created_at": "2026-12-04T10:00:00Z", **overrides}


def signed(payload: dict[str, Any], *, secret: str | None = None, now: float | None = None) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    headers = signed_headers(body, secret=secret or get_settings().alert_provider_secret, now=now)
    return body, {"Content-Type": "application/json", **headers}


def alert_row(external_id: str) -> PreDisputeAlert | None:
    with get_sessionmaker()() as session:
        return session.scalar(select(PreDisputeAlert).where(PreDisputeAlert.external_id == external_id))


def alert_kinds(alert_id: int) -> list[str]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(EvidenceEvent.kind).where(
            EvidenceEvent.kind.like("alert.%"), EvidenceEvent.data["alert_id"].astext == str(alert_id))
            .order_by(EvidenceEvent.seq)))
