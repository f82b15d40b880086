"""Shared by the supplier and fulfilment tests: paid orders, ledger queries, an in-test supplier fake.

The fake is for unit tests of our side only (it speaks protocol A over httpx.MockTransport); every
test that needs the other side's real behaviour uses the sandbox emulator through live_server.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_sessionmaker
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.shops.models import Shop
from app.suppliers.models import SupplierOrder
from app.suppliers.service import plan_for_order
from app.suppliers.signing import signed_headers, verify
from tests.factories import order_payload


def paid_order(session: Session, shop: Shop, **kwargs: Any) -> Order:
    """A paid order applied from its snapshot (as webhooks do), committed; not yet planned."""
    payload = order_payload(**kwargs)
    order, _ = apply_snapshot(session, shop, "orders/paid", payload)
    session.commit()
    return order


def hold_outbox(session: Session) -> None:
    """Keep this transaction's outbox rows from reaching a worker (they stay, marked dispatched).

    Unit tests run the tasks' work in-process; a live worker started by an end-to-end test of the
    same run would otherwise race them for the same rows.
    """
    session.flush()
    # By transaction id, not through the session: flushed objects are only weakly held by it.
    session.execute(
        text(
            "UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL"
            " AND xmin::text::bigint = txid_current() % 4294967296"
        )
    )


def planned(session: Session, shop: Shop, **kwargs: Any) -> tuple[Order, SupplierOrder]:
    """A paid order with its pending supplier order, whose place task is held back."""
    order = paid_order(session, shop, **kwargs)
    plan_for_order(session, order)
    hold_outbox(session)
    session.commit()
    (so,) = supplier_orders(order.id)
    return order, so


def supplier_orders(order_id: int) -> list[SupplierOrder]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)))


def kinds(chain: str, prefix: str = "") -> list[str]:
    with get_sessionmaker()() as session:
        return list(
            session.scalars(
                text("SELECT kind FROM evidence_events WHERE chain = :c AND kind LIKE :p ORDER BY seq"),
                {"c": chain, "p": prefix + "%"},
            )
        )


def events(chain: str, kind: str) -> list[Any]:
    with get_sessionmaker()() as session:
        return session.execute(
            text("SELECT * FROM evidence_events WHERE chain = :c AND kind = :k ORDER BY seq"),
            {"c": chain, "k": kind},
        ).all()


def outbox(task_name: str, object_id: int) -> list[Any]:
    with get_sessionmaker()() as session:
        return session.execute(
            text("SELECT * FROM outbox WHERE task_name = :t AND (args->>0)::bigint = :i ORDER BY id"),
            {"t": task_name, "i": object_id},
        ).all()


def callback_body(reference: str, kind: str = "order.confirmed", **order: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "occurred_at": "2026-11-26T10:00:00+00:00",
        "order": {"id": "SUP-1", "reference": reference, "status": kind.split(".")[1], **order},
    }


def signed_callback(payload: Any, *, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(body, secret=secret or get_settings().supplier_api_secret)
    headers["Content-Type"] = "application/json"
    return body, headers


class FakeSupplier:
    """Protocol A in memory. `lose_next` applies a request and then loses its answer (a timeout)."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.lose_next = 0
        self.fail_next = 0
        self.out_of_stock: set[str] = set()
        self._lock = threading.Lock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        settings = get_settings()
        body = request.read()
        problem = verify(
            body,
            request.headers.get("x-timestamp"),
            request.headers.get("x-signature"),
            settings.supplier_api_secret,
        )
        if problem or request.headers.get("x-api-key") != settings.supplier_api_key:
            return httpx.Response(401, json={"error": problem or "bad key"})
        path = urlsplit(str(request.url)).path.split("/sandbox/supplier", 1)[-1]
        with self._lock:
            self.requests.append((request.method, path))
            if self.fail_next:
                self.fail_next -= 1
                return httpx.Response(503, json={"error": "unavailable"})
            response = self._apply(request, path, body)
            if self.lose_next:
                self.lose_next -= 1
                raise httpx.ReadTimeout("answer lost", request=request)
            return response

    def _apply(self, request: httpx.Request, path: str, body: bytes) -> httpx.Response:
        if request.method == "POST" and path == "/orders":
            data = json.loads(body)
            missing = [line["sku"] for line in data["lines"] if line["sku"] in self.out_of_stock]
            if missing:
                return httpx.Response(409, json={"error": "out_of_stock", "sku": missing[0]})
            order = {
                "id": f"SUP-{len(self.orders) + 1}",
                "reference": data["reference"],
                "status": "received",
                "ship_to": data["ship_to"],
                "created_at": "2026-11-26T10:00:00+00:00",
            }
            self.orders.append(order)
            return httpx.Response(201, json=order)
        if request.method == "GET" and path == "/orders":
            reference = parse_qs(urlsplit(str(request.url)).query).get("reference", [""])[0]
            return httpx.Response(
                200, json={"orders": [o for o in self.orders if o["reference"] == reference]}
            )
        if request.method == "POST" and path.endswith("/cancel"):
            order_id = path.split("/")[2]
            for order in self.orders:
                if order["id"] == order_id:
                    if order["status"] == "shipped":
                        return httpx.Response(409, json={"error": "already shipped"})
                    order["status"] = "cancelled"
                    return httpx.Response(200, json=order)
            return httpx.Response(404, json={"error": "no such order"})
        return httpx.Response(404, json={"error": "no route"})

    def for_reference(self, reference: str) -> list[dict[str, Any]]:
        return [order for order in self.orders if order["reference"] == reference]
