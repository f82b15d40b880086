"""Keeping the aggregates equal to the sum of every order's facts, one order at a time.

refresh_order recomputes one order's facts, subtracts what the order contributed last time from
each aggregate row, adds what it contributes now, and stores the new contribution on its fact row,
all in the caller's transaction. Rows are locked in one global order (table, key) so two orders
refreshing at once never deadlock; an advisory lock per order makes two refreshes of the same order
run one after the other, so neither reads a contribution the other is replacing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, selectinload

from app.db import utcnow
from app.insights import facts as fact_rules
from app.insights.models import Aggregate, Breakdown, OrderFacts
from app.orders.models import Order

_LOCK_NAMESPACE = 72_120  # pg_advisory_xact_lock(namespace, order id): insights refreshes only
_TABLES = {"a": Aggregate, "b": Breakdown}
_KEY_COLUMNS = {
    "a": ("shop_id", "period", "supplier_id", "destination", "carrier", "product_key"),
    "b": ("shop_id", "period", "supplier_id", "destination", "carrier", "product_key", "kind", "reason", "bucket"),
}


def _key_values(table: str, key: list[Any]) -> dict[str, Any]:
    values = dict(zip(_KEY_COLUMNS[table], key, strict=True))
    values["period"] = date.fromisoformat(values["period"]) if isinstance(values["period"], str) else values["period"]
    return values


def _delta(old: list[list[Any]], new: list[list[Any]]) -> dict[tuple[str, str], dict[str, int]]:
    changes: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for sign, rows in ((-1, old), (1, new)):
        for table, key, measures in rows:
            into = changes[(table, _encode(key))]
            for name, value in measures.items():
                into[name] = into.get(name, 0) + sign * value
    return {k: {n: v for n, v in m.items() if v} for k, m in changes.items() if any(m.values())}


def _encode(key: list[Any]) -> str:
    # A sortable, exact text form of a key: the global lock order and the dictionary key.
    return "\x1f".join(str(part) for part in key)


def _decode(table: str, encoded: str) -> list[Any]:
    parts: list[Any] = encoded.split("\x1f")
    for index in (0, 2):  # shop_id, supplier_id
        parts[index] = int(parts[index])
    if table == "b":
        parts[8] = int(parts[8])
    return parts


# Adds two measure objects key by key in one statement, keeping only non-zero sums.
_MERGED = text("""
    (SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb) FROM (
        SELECT key, sum(value::bigint) AS total
        FROM (SELECT * FROM jsonb_each_text({table}.measures) UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.measures))
             AS both_sides
        GROUP BY key HAVING sum(value::bigint) <> 0) AS sums)
""".strip())


def apply(session: Session, changes: dict[tuple[str, str], dict[str, int]]) -> None:
    """Add `changes` to the aggregate rows, one upsert per row, in (table, key) order: every
    refresh takes the row locks in that one global order, so two never deadlock. A row whose
    measures all fall to zero stays with an empty object (readers sum it as nothing)."""
    for table, encoded in sorted(changes):
        model = _TABLES[table]
        values = _key_values(table, _decode(table, encoded))
        statement = insert(model).values(**values, measures=changes[(table, encoded)])
        merged = text(_MERGED.text.replace("{table}", model.__tablename__))
        session.execute(statement.on_conflict_do_update(
            index_elements=list(_KEY_COLUMNS[table]), set_={"measures": merged}))
    session.flush()


def refresh_order(session: Session, order_id: int) -> str:
    """Bring one order's facts and its share of every aggregate up to date. Safe to run twice."""
    return refresh_orders(session, [order_id])[order_id]


def refresh_orders(session: Session, order_ids: list[int]) -> dict[int, str]:
    """refresh_order for several orders in one transaction (app/insights/refresh.py batches).

    Locks are taken in one global order whatever the batch: the orders' advisory locks in id
    order, then the aggregate rows once, for the batch's summed delta, in (table, key) order, so
    two batches (or a batch and a single refresh) never deadlock; one upsert per aggregate row a
    batch touches instead of one per order and row."""
    ids = sorted(set(order_ids))
    for order_id in ids:
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": _LOCK_NAMESPACE, "id": order_id})
    orders = {order.id: order for order in session.scalars(
        select(Order).where(Order.id.in_(ids)).options(selectinload(Order.lines)))}
    stored_rows = {row.order_id: row for row in session.scalars(
        select(OrderFacts).where(OrderFacts.order_id.in_(ids)).execution_options(populate_existing=True))}
    total: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    outcomes: dict[int, str] = {}
    upserts = []
    for order_id in ids:
        order, stored = orders.get(order_id), stored_rows.get(order_id)
        computed = fact_rules.compute(session, order) if order is not None else None
        old = stored.contribution if stored is not None else []
        new = computed.contribution() if computed is not None else []
        for key, measures in _delta(old, new).items():
            into = total[key]
            for name, value in measures.items():
                into[name] = into.get(name, 0) + value
        if computed is None:
            if stored is not None:
                session.delete(stored)
            outcomes[order_id] = "removed" if stored is not None else "skipped"
            continue
        upserts.append({
            "order_id": order_id, "shop_id": computed.shop_id, "order_name": computed.order_name,
            "period": computed.period, "supplier_id": computed.supplier_id, "destination": computed.destination,
            "carrier": computed.carrier, "product_key": computed.product_key,
            "product_title": computed.product_title, "currency": computed.currency, "revenue": computed.revenue,
            "cost": computed.cost, "facts": computed.details, "outcomes": computed.outcomes,
            "contribution": new, "refreshed_at": utcnow(),
        })
        outcomes[order_id] = "changed" if old != new else "unchanged"
    apply(session, {k: {n: v for n, v in m.items() if v} for k, m in total.items() if any(m.values())})
    for values in upserts:
        columns = {k: v for k, v in values.items() if k != "order_id"}
        session.execute(
            insert(OrderFacts).values(**values)
            .on_conflict_do_update(index_elements=[OrderFacts.order_id], set_=columns)
        )
    session.flush()
    return outcomes


# Orders per refresh transaction: large enough that a burst costs a few transactions, small
# enough that one batch holds its locks for well under a second.
BATCH_SIZE = 100

_TAKE_PENDING = text("""
    DELETE FROM insights_pending_refreshes WHERE id IN (
        SELECT id FROM insights_pending_refreshes ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING order_id
""")


def refresh_pending_batch(session: Session, limit: int = BATCH_SIZE) -> int:
    """Take up to `limit` pending rows and refresh their orders in this transaction: the rows go
    only if the refresh commits (a worker killed mid-batch leaves them for the next). Rows another
    batch holds are skipped, not waited for. Returns how many rows were taken."""
    taken = list(session.scalars(_TAKE_PENDING, {"limit": limit}))
    if taken:
        refresh_orders(session, taken)
    return len(taken)


def expected_from_sources(session: Session, shop_id: int) -> dict[tuple[str, str], dict[str, int]]:
    """Every aggregate of one shop computed afresh from the source rows (tests and `rebuild`)."""
    total: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    orders = session.scalars(
        select(Order).where(Order.shop_id == shop_id).options(selectinload(Order.lines)).order_by(Order.id)
    )
    for order in orders:
        computed = fact_rules.compute(session, order)
        for table, key, measures in computed.contribution() if computed else []:
            into = total[(table, _encode(key))]
            for name, value in measures.items():
                into[name] = into.get(name, 0) + value
    return {k: {n: v for n, v in m.items() if v} for k, m in total.items() if any(m.values())}


def stored(session: Session, shop_id: int) -> dict[tuple[str, str], dict[str, int]]:
    """What the aggregate tables hold for one shop, in the same form."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for table, model in _TABLES.items():
        for row in session.scalars(select(model).where(model.shop_id == shop_id)):
            key = [getattr(row, column) for column in _KEY_COLUMNS[table]]
            key[1] = key[1].isoformat()
            if row.measures:  # a row emptied by later changes adds nothing
                found[(table, _encode(key))] = dict(row.measures)
    return found


def rebuild_shop(session: Session, shop_id: int) -> int:
    """Recompute one shop's facts and aggregates from scratch (SLA settings changed, or a repair);
    returns the number of orders. Runs in the caller's transaction."""
    session.execute(delete(Aggregate).where(Aggregate.shop_id == shop_id))
    session.execute(delete(Breakdown).where(Breakdown.shop_id == shop_id))
    session.execute(delete(OrderFacts).where(OrderFacts.shop_id == shop_id))
    session.flush()
    ids = list(session.scalars(select(Order.id).where(Order.shop_id == shop_id).order_by(Order.id)))
    for order_id in ids:
        refresh_order(session, order_id)
    return len(ids)
