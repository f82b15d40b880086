"""The registry: `get_adapter(supplier)` picks the adapter of Supplier.protocol.

Credentials and base URLs come from Supplier.settings (secrets Fernet-encrypted under
settings["secrets"], see set_secret) and fall back to configuration (app.config, sandbox defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import get_settings
from app.shops.secrets import decrypt, encrypt
from app.suppliers.adapters import aliexpress, cj, generic
from app.suppliers.adapters.base import OrderLineRequest, OrderRequest, SupplierAdapter, WebhookUpdate
from app.suppliers.models import Supplier
from app.suppliers.protocols import SupplierRejected


@dataclass(frozen=True)
class Protocol:
    """One supplier protocol: its adapter (whose class attributes are its capabilities:
    finds_by_reference, dedupes_reference, has_order_webhooks, polls_stock), how to build one, and
    which credentials it reads from settings["secrets"]."""

    name: str
    adapter: type
    build: Callable[..., SupplierAdapter]
    secret_names: tuple[str, ...]


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("generic", generic.GenericAdapter, generic.build, ("api_secret",)),
        Protocol("aliexpress", aliexpress.AliExpressAdapter, aliexpress.build,
                 ("app_secret", "access_token", "refresh_token")),
        Protocol("cj", cj.CJAdapter, cj.build, ("api_key",)),
    )
}

__all__ = ["PROTOCOLS", "OrderLineRequest", "OrderRequest", "Protocol", "SupplierAdapter", "WebhookUpdate",
           "adapter_class", "get_adapter", "set_secret", "supplier_secrets"]


def adapter_class(protocol: str) -> type | None:
    """The adapter class of a protocol: its capability flags without building a client."""
    found = PROTOCOLS.get(protocol)
    return found.adapter if found else None


def set_secret(supplier: Supplier, name: str, value: str) -> None:
    """Store a credential encrypted in the supplier's settings (never shown back)."""
    own = dict(supplier.settings or {})
    own["secrets"] = {**(own.get("secrets") or {}), name: encrypt(value).decode()}
    supplier.settings = own


def supplier_secrets(supplier: Supplier) -> dict[str, str]:
    stored = (supplier.settings or {}).get("secrets") or {}
    names = PROTOCOLS[supplier.protocol].secret_names if supplier.protocol in PROTOCOLS else ()
    return {name: decrypt(stored[name].encode()) for name in names if stored.get(name)}


def get_adapter(supplier: Supplier, *, transport: httpx.BaseTransport | None = None) -> SupplierAdapter:
    """The adapter for this supplier; a context manager that closes its HTTP client."""
    own: dict[str, Any] = dict(supplier.settings or {})
    timeout = float(own.get("timeout_seconds") or get_settings().supplier_timeout_seconds)
    protocol = PROTOCOLS.get(supplier.protocol)
    if protocol is None:
        raise SupplierRejected(f"unsupported supplier protocol {supplier.protocol!r}", code="unsupported_protocol")
    return protocol.build(own, supplier_secrets(supplier), timeout=timeout, transport=transport)
