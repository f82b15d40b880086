"""Customers' photos: checked by their bytes (not their names), stored under random names.

A file is refused (nothing stored, a clear reason) when it is not JPEG, PNG or WebP by its magic
bytes, larger than MAX_BYTES, one too many, or named with path tricks (separators, "..", control
characters). Names are never used on disk: only a random name with the type's extension is.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from app.config import get_settings
from app.paths import ROOT

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
# Whole request: the photos, the message and the form's overhead.
MAX_REQUEST_BYTES = MAX_FILES * MAX_BYTES + 256 * 1024
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class UploadRejected(Exception):
    def __init__(self, code: str, status_code: int = 400, **params: object) -> None:
        super().__init__(code)
        self.code, self.status_code, self.params = code, status_code, params


@dataclass(frozen=True)
class Photo:
    original_name: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_name(name: str | None) -> str:
    """The name as shown to the merchant; refused outright if it tries to name a path."""
    name = name or ""
    if any(sep in name for sep in ("/", "\\", "\x00")) or ".." in name or name.startswith("."):
        raise UploadRejected("upload.bad_name")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise UploadRejected("upload.bad_name")
    return name.strip()[:120] or "photo"


def check(name: str | None, data: bytes) -> Photo:
    display = clean_name(name)
    if len(data) > MAX_BYTES:
        raise UploadRejected("upload.too_large", 413, name=display)
    kind = sniff(data)
    if kind is None:
        raise UploadRejected("upload.bad_type", name=display)
    return Photo(original_name=display, content_type=kind, data=data)


def directory() -> Path:
    configured = Path(get_settings().uploads_dir)
    return configured if configured.is_absolute() else ROOT / configured


def store(shop_id: int, photos: list[Photo]) -> list[dict[str, object]]:
    """Write each photo under a random name; returns what the resolution row keeps of each."""
    folder = directory() / str(int(shop_id))
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for photo in photos:
        name = f"{secrets.token_hex(16)}.{_EXTENSIONS[photo.content_type]}"
        target = folder / name
        # O_EXCL: never overwrite (a random-name collision is astronomically unlikely, not trusted).
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "wb") as handle:
            handle.write(photo.data)
        stored.append({"name": name, "type": photo.content_type, "size": len(photo.data), "sha256": photo.sha256})
    return stored


def path_of(shop_id: int, name: str) -> Path | None:
    """The stored file for the merchant's view, only for names this module could have made."""
    stem, _, extension = name.partition(".")
    if len(stem) != 32 or not all(c in "0123456789abcdef" for c in stem) or extension not in _EXTENSIONS.values():
        return None
    target = directory() / str(int(shop_id)) / name
    return target if target.is_file() else None
