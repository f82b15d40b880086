from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class Shop(TimestampMixin, Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # installed | uninstalled
    status: Mapped[str] = mapped_column(String(16), default="installed")
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Expiring offline tokens: the access token lives an hour, the refresh token rotates on use.
    access_token_expires_at: Mapped[datetime | None]
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_expires_at: Mapped[datetime | None]
    # Scopes the merchant granted (comma-separated, as the store reports them).
    scopes: Mapped[str | None] = mapped_column(String(1024))
    # token_exchange | authorization_code | cli: how the current token was obtained.
    installed_via: Mapped[str | None] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    installed_at: Mapped[datetime | None]
    uninstalled_at: Mapped[datetime | None]

    @property
    def is_installed(self) -> bool:
        return self.status == "installed"
