"""The registry: `get_adapter(supplier)` picks the adapter of Supplier.protocol.

Credentials and base URLs come from Supplier.settings (secrets Fernet-encrypted under
settings["secrets"], see set_secret) and fall back to configuration (app.config, sandbox defaults).
"""

from __future__ import annotations

from typing import Any

import httpx

from app.config import get_settings
from app.shops.secrets import decrypt, encrypt
from app.suppliers.adapters import aliexpress, cj, generic
from app.suppliers.adapters.base import OrderLineRequest, OrderRequest, SupplierAdapter, WebhookUpdate
from app.suppliers.models import Supplier
from app.suppliers.protocols import SupplierRejected

PROTOCOLS = ("generic", "aliexpress", "cj")
# Which names under settings["secrets"] each protocol reads.
SECRET_NAMES = {"generic": ("api_secret",), "aliexpress": ("app_secret", "access_token", "refresh_token"), "cj": ("api_key",)}

__all__ = ["PROTOCOLS", "OrderLineRequest", "OrderRequest", "SupplierAdapter", "WebhookUpdate", "adapter_class",
           "get_adapter", "set_secret", "supplier_secrets"]

_CLASSES: dict[str, type] = {"generic": generic.GenericAdapter, "aliexpress": aliexpress.AliExpressAdapter,
                             "cj": cj.CJAdapter}


def adapter_class(protocol: str) -> type | None:
    """The adapter class of a protocol: its capability flags without building a client."""
    return _CLASSES.get(protocol)


def set_secret(supplier: Supplier, name: str, value: str) -> None:
    """Store a credential encrypted in the supplier's settings (never shown back)."""
    own = dict(supplier.settings or {})
    own["secrets"] = {**(own.get("secrets") or {}), name: encrypt(value).decode()}
    supplier.settings = own


def supplier_secrets(supplier: Supplier) -> dict[str, str]:
    stored = (supplier.settings or {}).get("secrets") or {}
    return {name: decrypt(stored[name].encode()) for name in SECRET_NAMES.get(supplier.protocol, ()) if stored.get(name)}


def get_adapter(supplier: Supplier, *, transport: httpx.BaseTransport | None = None) -> SupplierAdapter:
    """The adapter for this supplier; a context manager that closes its HTTP client."""
    own: dict[str, Any] = dict(supplier.settings or {})
    timeout = float(own.get("timeout_seconds") or get_settings().supplier_timeout_seconds)
    found = supplier_secrets(supplier)
    if supplier.protocol == "generic":
        return generic.build(own, found.get("api_secret"), timeout=timeout, transport=transport)
    if supplier.protocol == "aliexpress":
        return aliexpress.build(own, found, timeout=timeout, transport=transport)
    if supplier.protocol == "cj":
        return cj.build(own, found, timeout=timeout, transport=transport)
    raise SupplierRejected(f"unsupported supplier protocol {supplier.protocol!r}", code="unsupported_protocol")
