"""What a shop's myshopify domain looks like: the one check every entry point applies before a
domain from outside (a webhook header, a session token, an OAuth callback) is trusted as a name."""

from __future__ import annotations

import re

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")


def is_shop_domain(value: str | None) -> bool:
    return bool(value) and SHOP_DOMAIN.fullmatch(value) is not None
