"""Supplier access tokens shared by every process through Redis, encrypted at rest.

CJ allows one getAccessToken call per 5 minutes and AliExpress refresh tokens are single-use, so
one worker's renewal must be what every other worker uses next.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from app.redis import get_redis, key
from app.shops.secrets import decrypt, encrypt
from app.suppliers.protocols import TokenGrant


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class RedisTokenStore:
    """One token per (protocol, account credential); the credential itself is only hashed into the key."""

    def __init__(self, protocol: str, account: str) -> None:
        digest = hashlib.sha256(account.encode()).hexdigest()[:24]
        self._key = key("suppliers", protocol, "token", digest)

    def load(self) -> TokenGrant | None:
        blob = get_redis().get(self._key)
        if not blob:
            return None
        data = json.loads(decrypt(blob))
        return TokenGrant(access_token=data["access"], refresh_token=data.get("refresh"),
                          access_expires_at=_when(data.get("access_until")),
                          refresh_expires_at=_when(data.get("refresh_until")), account_id=data.get("account"))

    def save(self, grant: TokenGrant) -> None:
        data = {"access": grant.access_token, "refresh": grant.refresh_token, "account": grant.account_id,
                "access_until": grant.access_expires_at.isoformat() if grant.access_expires_at else None,
                "refresh_until": grant.refresh_expires_at.isoformat() if grant.refresh_expires_at else None}
        get_redis().set(self._key, encrypt(json.dumps(data)))
