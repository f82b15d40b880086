"""Signed, unguessable links to a customer's order-status page.

A token is urlsafe base64 (no padding) of: version byte, order id and shop id (8 bytes each,
big-endian), then the first 16 bytes (128 bits) of HMAC-SHA256(secret_key, purpose + those bytes).
The ids are not secret, the MAC is what makes the link unguessable; the shop id inside the MAC
means a token can never name another shop's order even if ids were reused. Rotating
settings.secret_key invalidates every link already emailed, so keep it stable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import TYPE_CHECKING

from app.config import get_settings

if TYPE_CHECKING:
    from app.orders.models import Order

_VERSION = 1
_PURPOSE = b"dropguard.status-link.v1:"
_IDS = struct.Struct(">BQQ")
_MAC_BYTES = 16
_TOKEN_BYTES = _IDS.size + _MAC_BYTES
# 33 bytes of base64 without padding; anything longer or shorter is rejected before decoding.
TOKEN_LENGTH = 44


def _mac(payload: bytes) -> bytes:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, _PURPOSE + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(order_id: int, shop_id: int) -> str:
    payload = _IDS.pack(_VERSION, order_id, shop_id)
    return base64.urlsafe_b64encode(payload + _mac(payload)).rstrip(b"=").decode()


def token_for(order: Order) -> str:
    return make_token(order.id, order.shop_id)


def status_url(order: Order) -> str:
    return f"{get_settings().public_base}/status/{token_for(order)}"


def parse_token(token: str) -> tuple[int, int] | None:
    """(order id, shop id) from a genuine token; None for anything else."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES:
        return None
    payload, mac = raw[: _IDS.size], raw[_IDS.size :]
    if not hmac.compare_digest(mac, _mac(payload)):
        return None
    version, order_id, shop_id = _IDS.unpack(payload)
    if version != _VERSION:
        return None
    # The canonical encoding only: base64 tolerates variants (trailing bits) we never issue.
    if make_token(order_id, shop_id) != token:
        return None
    return order_id, shop_id


def order_id_from_token(token: str) -> int | None:
    parsed = parse_token(token)
    return parsed[0] if parsed else None
