"""Suppliers on the sandbox AliExpress and CJ emulators, each test with its own app / account."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.shops.models import Shop
from app.suppliers.adapters import get_adapter, set_secret
from app.suppliers.models import Supplier
from app.suppliers.tables import VariantMapping
from tests.suppliers.e2e import live_url


def control(protocol: str, path: str, body: dict[str, Any] | None = None, *, method: str = "POST") -> dict:
    response = httpx.request(method, f"{live_url()}/sandbox/{protocol}/_control{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def ae_supplier(session: Session, shop: Shop, name: str = "AliExpress") -> Supplier:
    app = control("aliexpress", "/apps")
    supplier = Supplier(shop_id=shop.id, name=name, protocol="aliexpress", settings={"app_key": app["app_key"]})
    set_secret(supplier, "app_secret", app["app_secret"])
    set_secret(supplier, "access_token", app["access_token"])
    set_secret(supplier, "refresh_token", app["refresh_token"])
    session.add(supplier)
    session.commit()
    return supplier


def cj_supplier(session: Session, shop: Shop, name: str = "CJ") -> tuple[Supplier, dict]:
    """A CJ supplier whose access token is already in the shared store (getAccessToken allows one
    call per 5 minutes, so a test's failure knobs must not land on it)."""
    account = control("cj", "/accounts")
    supplier = Supplier(shop_id=shop.id, name=name, protocol="cj", settings={"open_id": str(account["open_id"])})
    set_secret(supplier, "api_key", account["api_key"])
    session.add(supplier)
    session.commit()
    with get_adapter(supplier) as adapter:
        adapter.get_stock("CJ-SANDBOX-VID-0001")
    return supplier, account


def no_default_supplier(session: Session, shop: Shop) -> None:
    for supplier in session.scalars(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default)):
        supplier.is_default = False
    session.commit()


def map_sku(session: Session, shop: Shop, supplier: Supplier, sku: str, supplier_sku: str, *,
            variant: str | None = None, priority: int = 1) -> VariantMapping:
    mapping = VariantMapping(shop_id=shop.id, supplier_id=supplier.id, match_key=f"s:{sku}", sku=sku,
                             supplier_sku=supplier_sku, supplier_variant=variant, priority=priority)
    session.add(mapping)
    session.commit()
    return mapping


def ae_orders(out_order_id: str) -> list[dict]:
    return control("aliexpress", f"/orders?out_order_id={out_order_id}", method="GET")["orders"]


def cj_orders(order_number: str) -> list[dict]:
    return control("cj", f"/orders?order_number={order_number}", method="GET")["orders"]


def calm(protocol: str) -> None:
    """Set every one-shot failure knob of an emulator back to none."""
    control(protocol, "/behaviour", {"fail_next": 0, "lose_response_next": 0, "rate_limit_next": 0, "latency_ms": 0})
