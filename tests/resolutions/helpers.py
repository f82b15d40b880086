"""Tiny valid images (by magic bytes) and a form post for the report-a-problem page."""

from __future__ import annotations

import base64

# 1x1 images; only the leading bytes matter to the check, but these are real files.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def report(client, token: str, *, reason: str = "damaged", message: str = "Cracked", files=None, lang: str = "en"):
    return client.post(
        f"/status/{token}/problem?lang={lang}",
        data={"reason": reason, "message": message},
        files=files or [],
        follow_redirects=False,
    )
