"""Shared by the notification, status-page and dashboard tests: orders, shipments, an SMTP catcher.

The in-test catcher is a real SMTP server (aiosmtpd) on a free port, for unit tests of our side;
the end-to-end test uses the sandbox's own catcher through live_server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_sessionmaker
from app.embedded import free_port
from app.fulfilments.models import Shipment
from app.notifications import service as notifications
from app.notifications.models import Notification
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.outbox.models import OutboxMessage
from app.shops.models import Shop
from app.suppliers.models import Supplier, SupplierOrder
from tests.factories import order_payload


def paid_order(session: Session, shop: Shop, **kwargs: Any) -> Order:
    """A paid order applied from its snapshot exactly as the webhook pipeline does, committed."""
    order, _ = apply_snapshot(session, shop, "orders/paid", order_payload(**kwargs))
    session.commit()
    return order


def add_shipment(
    session: Session,
    order: Order,
    *,
    tracking_number: str = "1Z999AA10123456784",
    carrier: str | None = "UPS",
    tracking_url: str | None = "https://www.ups.com/track?tracknum=1Z999AA10123456784",
) -> Shipment:
    supplier_id = session.scalar(
        select(Supplier.id).where(Supplier.shop_id == order.shop_id, Supplier.is_default)
    )
    supplier_order = SupplierOrder(
        shop_id=order.shop_id,
        order_id=order.id,
        supplier_id=supplier_id,
        idempotency_key="dg-test-" + uuid.uuid4().hex[:20],
        status="shipped",
        external_id="SUP-" + uuid.uuid4().hex[:6],
    )
    session.add(supplier_order)
    session.flush()
    shipment = Shipment(
        shop_id=order.shop_id,
        order_id=order.id,
        supplier_order_id=supplier_order.id,
        tracking_number=tracking_number,
        carrier=carrier,
        tracking_url=tracking_url,
        shipped_at=datetime.now(UTC),
    )
    session.add(shipment)
    session.commit()
    return shipment


def hold_sends(session: Session, notification_id: int) -> None:
    """Mark the send task as already published, so the test drives the send itself.

    A real worker may be running for the whole session (end-to-end tests); its outbox relay would
    otherwise race the test for the task. Call before committing the scheduling transaction.
    """
    session.flush()
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.task_name == "notifications.send",
            OutboxMessage.args == [notification_id],
            OutboxMessage.dispatched_at.is_(None),
        )
        .values(dispatched_at=func.now())
    )


def schedule_held(session: Session, order: Order, stage: str = "order_confirmed") -> Notification | None:
    """notifications.schedule as the pipeline calls it, committed, with the send left to the test."""
    notification = notifications.schedule(session, order, stage=stage)
    if notification is not None:
        hold_sends(session, notification.id)
    session.commit()
    return notification


def events(order_id: int, kind_prefix: str = "") -> list[Any]:
    """The order's ledger rows, read on a fresh connection (so only committed data counts)."""
    with get_sessionmaker()() as session:
        return list(
            session.execute(
                text(
                    "SELECT seq, kind, data, personal FROM evidence_events "
                    "WHERE order_id = :o AND kind LIKE :p ORDER BY seq"
                ),
                {"o": order_id, "p": kind_prefix + "%"},
            )
        )


def kinds(order_id: int, kind_prefix: str = "") -> list[str]:
    return [row.kind for row in events(order_id, kind_prefix)]


@dataclass
class Catcher:
    """aiosmtpd handler: keeps what it accepts, and can refuse on demand."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    # Replies to use instead of accepting, consumed one per DATA command ("451 try later").
    data_replies: list[str] = field(default_factory=list)
    rcpt_reply: str | None = None
    port: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, e in zip(self.messages, self.envelopes, strict=True) if address in e.rcpt_tos]


@pytest.fixture
def smtp_catcher(monkeypatch) -> Catcher:
    """A real SMTP server on a free port, with settings.smtp_port pointed at it for this test."""
    catcher = Catcher(port=free_port())
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    monkeypatch.setattr(get_settings(), "smtp_port", catcher.port)
    try:
        yield catcher
    finally:
        controller.stop()


@pytest.fixture
def smtp_down(monkeypatch) -> int:
    """settings.smtp_port pointed at a port nobody listens on."""
    port = free_port()
    monkeypatch.setattr(get_settings(), "smtp_port", port)
    return port


def body_parts(message: EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return text_part.get_content(), html_part.get_content()
