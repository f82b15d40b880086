"""Driving the sandbox emulators and finding worker processes, for the end-to-end tests."""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from sqlalchemy.orm import Session

from app.shops.models import Shop
from app.shops.service import add_shop
from app.suppliers.service import default_supplier


def live_url() -> str:
    return os.environ["DROPGUARD_PUBLIC_URL"].rstrip("/")


def behave(**rules: Any) -> dict[str, Any]:
    """Set the supplier emulator's behaviour (shared by the whole run: reset after each test)."""
    response = httpx.post(f"{live_url()}/sandbox/supplier/_control/behaviour", json=rules, timeout=10)
    response.raise_for_status()
    return response.json()


def reset_supplier() -> None:
    httpx.post(f"{live_url()}/sandbox/supplier/_control/reset", json={}, timeout=10).raise_for_status()


def emulator_orders(reference: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{live_url()}/sandbox/supplier/_control/orders", params={"reference": reference}, timeout=10
    )
    response.raise_for_status()
    return response.json()["orders"]


def store_shop(session: Session, *, supplier_timeout: float | None = None) -> Shop:
    """A shop installed here and in the sandbox store, with the same access token."""
    domain = f"sup-{uuid.uuid4().hex[:12]}.myshopify.com"
    token = "shpat_" + uuid.uuid4().hex
    shop = add_shop(session, domain=domain, access_token=token)
    if supplier_timeout is not None:
        session.flush()
        default_supplier(session, shop.id).settings = {"timeout_seconds": supplier_timeout}
    session.commit()
    response = httpx.post(
        f"{live_url()}/sandbox/shopify/_control/shops",
        json={"domain": domain, "access_token": token},
        timeout=10,
    )
    response.raise_for_status()
    return shop


def _run_prefix(process: psutil.Process) -> str | None:
    try:
        return process.environ().get("DROPGUARD_REDIS_PREFIX")
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def worker_children_calling_live_server() -> list[psutil.Process]:
    """Pool processes of this run's workers with a connection open to the live server right now.

    A pool child is found by what it is doing (a TCP connection to the emulator's port), so this
    works whichever of the run's workers took the task.
    """
    port = urlsplit(live_url()).port
    prefix = os.environ["DROPGUARD_REDIS_PREFIX"]
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if "app.cli" not in cmdline or " worker" not in cmdline or _run_prefix(process) != prefix:
            continue
        try:
            connections = process.net_connections(kind="tcp")
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in connections):
            found.append(process)
    return found
