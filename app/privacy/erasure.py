"""shop/redact: every row of the shop erased, in every table, the ledger chain and its head included.

Tables are found in the database catalogue rather than listed here, so that a table another domain
adds later is erased too: every table with a shop_id column, and the rows of tables without one
that point at those rows. Children go before their parents (foreign-key order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.errors import AppError
from app.evidence import service as evidence

log = logging.getLogger(__name__)

# The ledger goes through its sanctioned erasure path; the shop row itself goes last.
_SPECIAL = frozenset({"evidence_events", "ledger_heads", "shops"})

_SHOP_TABLES = text(
    "SELECT table_name FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND column_name = 'shop_id'"
)
_FOREIGN_KEYS = text(
    """
    SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
           a.attname AS child_column, pa.attname AS parent_column, c.confdeltype AS on_delete
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
      AND cardinality(c.conkey) = 1
    """
)


class ErasureOrderError(AppError):
    code = "erasure_order"


@dataclass
class ErasureReport:
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _plan(session: Session) -> tuple[list[str], dict[str, list[tuple[str, str, str]]]]:
    """Tables in deletion order, and for tables without shop_id the links that reach the shop."""
    owned = {row[0] for row in session.execute(_SHOP_TABLES)} - _SPECIAL
    keys = session.execute(_FOREIGN_KEYS).all()
    # Tables without shop_id whose rows hang off an owned row (one level deep); cascades need nothing.
    linked: dict[str, list[tuple[str, str, str]]] = {}
    for child, parent, child_column, parent_column, on_delete in keys:
        if parent in owned and child not in owned and child not in _SPECIAL and on_delete != "c":
            linked.setdefault(child, []).append((child_column, parent, parent_column))
    tables = owned | set(linked)
    parents_of = {t: set() for t in tables}
    for child, parent, *_ in keys:
        if child in tables and parent in tables and child != parent:
            parents_of[child].add(parent)
    order: list[str] = []
    remaining = set(tables)
    while remaining:
        # A table can go once no remaining table still points at it.
        ready = sorted(t for t in remaining if not any(t in parents_of[o] for o in remaining if o != t))
        if not ready:
            raise ErasureOrderError(f"foreign keys form a cycle among {sorted(remaining)}")
        order.extend(ready)
        remaining -= set(ready)
    return order, linked


def erase(session: Session, *, shop_id: int, domain: str) -> ErasureReport:
    """Delete everything of one shop (flushes nothing else; the caller commits)."""
    report = ErasureReport()
    session.flush()
    # The ledger first: its events point at orders, deliveries and the shop.
    report.rows["evidence_events"] = evidence.erase_chain(session, chain=domain, shop_id=shop_id)
    order, linked = _plan(session)
    params = {"shop_id": shop_id, "domain": domain}
    for table in order:
        if table in linked:
            condition = " OR ".join(
                f"{_quote(column)} IN (SELECT {_quote(parent_column)} FROM {_quote(parent)} WHERE shop_id = :shop_id)"  # noqa: S608 - catalogue names, quoted
                for column, parent, parent_column in linked[table]
            )
        elif table == "webhook_deliveries":
            # Deliveries recorded before the shop was known carry only its domain.
            condition = "shop_id = :shop_id OR shop_domain = :domain"
        else:
            condition = "shop_id = :shop_id"
        # Identifiers come from the database catalogue and are quoted; values are bound.
        result = session.execute(text(f"DELETE FROM {_quote(table)} WHERE {condition}"), params)  # noqa: S608
        report.rows[table] = result.rowcount
    report.rows["shops"] = session.execute(text("DELETE FROM shops WHERE id = :shop_id"), params).rowcount
    session.expire_all()
    log.info("privacy.shop_erased", extra={"shop_domain": domain, "rows": report.total})
    return report
