"""Access tokens at rest: Fernet-encrypted, never logged, never returned by an endpoint."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet

from app.config import get_settings


def _fernet() -> MultiFernet:
    settings = get_settings()
    keys = [k.strip() for k in (settings.encryption_keys or "").split(",") if k.strip()]
    if not keys:
        # No dedicated keys configured: derive one from SECRET_KEY so development just works.
        derived = hashlib.sha256(b"dropguard-token-key:" + settings.secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(token: str) -> bytes:
    return _fernet().encrypt(token.encode())


def decrypt(blob: bytes) -> str:
    return _fernet().decrypt(blob).decode()


def rotate(blob: bytes) -> bytes:
    """The same token under the newest key (MultiFernet decrypts with any configured key)."""
    return _fernet().rotate(blob)
