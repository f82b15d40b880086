"""Access tokens at rest: Fernet-encrypted, never logged, never returned by an endpoint."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet

from app.config import get_settings


def _fernet() -> MultiFernet:
    settings = get_settings()
    keys = [k.strip() for k in (settings.encryption_keys or "").split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys or [derived_key()]])


def derived_key() -> str:
    """With no dedicated keys configured, one derived from SECRET_KEY so development just works
    (list it after a new key in DROPGUARD_ENCRYPTION_KEYS to move off it with rotate-keys)."""
    derived = hashlib.sha256(b"dropguard-token-key:" + get_settings().secret_key.encode()).digest()
    return base64.urlsafe_b64encode(derived).decode()


def encrypt(token: str) -> bytes:
    return _fernet().encrypt(token.encode())


def decrypt(blob: bytes) -> str:
    return _fernet().decrypt(blob).decode()


def rotate(blob: bytes) -> bytes:
    """The same token under the newest key (MultiFernet decrypts with any configured key)."""
    return _fernet().rotate(blob)
