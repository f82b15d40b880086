"""The history import: past orders with their refunds, fulfilments and disputes, page by page.

Idempotent: orders go through the order service (newest snapshot wins; an order already held at
this version is skipped, so each imported order is recorded once as "order.imported"), and
refunds, fulfilments and disputes are inserted once by their store id. Resumable: each page is
stored in one transaction together with the cursor after it, so an interrupted import continues
after the last stored page and never loses or doubles one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_sessionmaker, utcnow
from app.disputes.models import Dispute
from app.evidence import service as evidence
from app.history.mapping import ORDERS_COUNT, ORDERS_PAGE, PAGE_SIZE, gid_number, rest_order
from app.history.models import HistoryFulfillment, HistoryImport
from app.orders import service as orders
from app.orders.models import Order
from app.refunds import records as refund_records
from app.refunds import service as refunds
from app.shops.admin_client import AdminClient, AdminError
from app.shops.models import Shop

ProgressCallback = Callable[[dict[str, Any]], None]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def import_progress(session: Session, shop_id: int) -> dict[str, Any]:
    """What the dashboard shows: status, counts and a percentage (None while the total is unknown)."""
    row = session.scalar(select(HistoryImport).where(HistoryImport.shop_id == shop_id))
    if row is None:
        return {"status": "not_started"}
    total = row.orders_total
    return {
        "status": row.status, "since": row.since, "orders_total": total, "orders_seen": row.orders_seen,
        "orders_imported": row.orders_imported, "refunds": row.refunds, "fulfillments": row.fulfillments,
        "disputes": row.disputes, "started_at": row.started_at, "finished_at": row.finished_at, "error": row.error,
        "percent": (100 if row.status == "completed" else min(99, round(100 * row.orders_seen / total)))
        if total else (100 if row.status == "completed" else None),
    }


def _begin(session: Session, shop: Shop, since: datetime | None) -> HistoryImport | None:
    row = session.scalar(select(HistoryImport).where(HistoryImport.shop_id == shop.id).with_for_update())
    if row is None:
        row = HistoryImport(shop_id=shop.id, status="pending",
                            since=since or utcnow() - timedelta(days=get_settings().history_import_days),
                            orders_seen=0, orders_imported=0, refunds=0, fulfillments=0, disputes=0)
        session.add(row)
    elif since is not None and (row.status == "completed" or abs((row.since - since).total_seconds()) > 60):
        # A new window (or a new run after a finished one): start over; the upserts keep it idempotent.
        row.since, row.cursor, row.orders_total, row.finished_at, row.error = since, None, None, None, None
        row.orders_seen = row.orders_imported = row.refunds = row.fulfillments = row.disputes = 0
        row.status = "pending"
    elif row.status == "completed":
        return None
    if row.status == "pending":
        row.started_at = utcnow()
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="history.import_started",
                        source="dropguard", data={"since": row.since})
    row.status, row.error = "running", None
    session.flush()
    return row


def _store_page(session: Session, shop: Shop, row: HistoryImport, nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        payload = rest_order(node)
        held = session.scalar(select(Order.source_updated_at).where(
            Order.shop_id == shop.id, Order.external_id == payload["id"]))
        if held is not None and held >= _time(payload["updated_at"]):
            order = session.scalar(select(Order).where(Order.shop_id == shop.id, Order.external_id == payload["id"]))
        else:
            order, _ = orders.apply_snapshot(session, shop, "orders/imported", payload, kind="order.imported")
            row.orders_imported += 1
        orders.lock_store_order(session, shop.id, order.external_id)
        for raw in node.get("refunds") or []:
            # Past refunds join the one refund table: a refund we issued is matched to its own row.
            report = refund_records.from_graphql(raw, order_external_id=order.external_id)
            _, new = refunds.apply_report(session, shop, report, via="history", order=order)
            row.refunds += new
        row.fulfillments += _insert(session, HistoryFulfillment, [
            {"shop_id": shop.id, "order_id": order.id, "external_id": int(f["legacyResourceId"]),
             "status": f["status"].lower(), "display_status": (f.get("displayStatus") or "").lower() or None,
             "tracking_company": ((f.get("trackingInfo") or [{}])[0] or {}).get("company"),
             "tracking_number": ((f.get("trackingInfo") or [{}])[0] or {}).get("number"),
             "fulfilled_at": _time(f["createdAt"])}
            for f in node.get("fulfillments") or []
        ])
        row.disputes += _insert(session, Dispute, [
            {"shop_id": shop.id, "order_id": order.id, "external_id": str(gid_number(d["id"])),
             "status": d["status"].lower(), "currency": None, "amount": None, "reason": None}
            for d in node.get("disputes") or []
        ])
    row.orders_seen += len(nodes)


def _insert(session: Session, model: type, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    inserted = session.execute(
        insert(model).values(rows).on_conflict_do_nothing(index_elements=["shop_id", "external_id"])
        .returning(model.id)
    ).all()
    return len(inserted)


def run_import(
    shop_id: int, *, since: datetime | None = None, on_page: ProgressCallback | None = None,
    transport: httpx.BaseTransport | None = None, client: AdminClient | None = None,
) -> str:
    """Import (or continue importing) one shop's history. Owns its transactions: one per page."""
    maker = get_sessionmaker()
    with maker() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or not shop.is_installed:
            return "not installed"
        row = _begin(session, shop, since)
        if row is None:
            session.commit()
            return "completed"
        search = f"created_at:>={row.since.isoformat().replace('+00:00', 'Z')}"
        cursor, known_total = row.cursor, row.orders_total
        session.commit()
    own_client = client is None
    client = client or AdminClient.for_shop(shop, transport=transport)
    try:
        if known_total is None:
            total = client.query(ORDERS_COUNT, {"query": search})["ordersCount"]["count"]
            with maker() as session:
                session.get(HistoryImport, row.id).orders_total = total
                session.commit()
        while True:
            page = client.query(ORDERS_PAGE, {"first": PAGE_SIZE, "after": cursor, "query": search})["orders"]
            with maker() as session:
                current = session.get(HistoryImport, row.id, with_for_update=True)
                if current.cursor != cursor:
                    return "running elsewhere"  # another run stored this page meanwhile
                _store_page(session, shop, current, page["nodes"])
                current.cursor = page["pageInfo"]["endCursor"] or cursor
                done = not page["pageInfo"]["hasNextPage"]
                if done:
                    current.status, current.finished_at = "completed", utcnow()
                    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="history.import_completed",
                                    source="dropguard", data={
                                        "orders_seen": current.orders_seen, "orders_imported": current.orders_imported,
                                        "refunds": current.refunds, "fulfillments": current.fulfillments,
                                        "disputes": current.disputes})
                session.commit()
                cursor = current.cursor
                progress = import_progress(session, shop.id)
            if on_page:
                on_page(progress)
            if done:
                return "completed"
    except AdminError as error:
        with maker() as session:
            current = session.get(HistoryImport, row.id)
            current.status, current.error = "failed", error.message[:1000]
            session.commit()
        raise
    finally:
        if own_client:
            client.close()
