from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Notification(TimestampMixin, Base):
    __tablename__ = "notifications"
    # At most one message per stage per order and channel.
    __table_args__ = (
        UniqueConstraint("order_id", "stage", "channel"),
        # The beat task that releases messages held back by quiet hours reads only these rows.
        Index("ix_notifications_deferred_due", "due_at", postgresql_where=text("status = 'deferred'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # email | sms
    channel: Mapped[str] = mapped_column(String(16), default="email")
    # One of app.notifications.service.STAGES, "<stage>:<occurrence>" for repeatable stages.
    stage: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # deferred (quiet hours; due_at says when) -> pending -> sending (attempt claimed and
    # committed) -> sent; back to pending after a transient error; failed (last_error) after the
    # last retry or a permanent refusal; skipped (last_error holds the reason) when there is nobody
    # to write to.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Stable per notification so that a retried send can be recognised by the receiving side.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str | None] = mapped_column(String(512))
    body_digest: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # Stage facts given by the caller (non-personal), e.g. the new delivery estimate of a delay;
    # keys are documented in app.notifications.service.CONTEXT_KEYS.
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    # When a message held back by quiet hours may go out.
    due_at: Mapped[datetime | None]
    # The provider's id of the accepted message (SMTP queue reply or SMS SID).
    provider_ref: Mapped[str | None] = mapped_column(String(255))


class NotificationTemplate(TimestampMixin, Base):
    """A merchant's wording for one stage in one language; the built-in template is the fallback."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("shop_id", "stage", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    stage: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    # Sandboxed Jinja2 sources (app.notifications.custom): plain text, paragraphs split on blank
    # lines; the HTML part is built from them with every value escaped.
    subject: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
