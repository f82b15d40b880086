"""Product mapping: which supplier product fills a store variant, and the CSV import.

A store line matches a mapping by its variant id ("v:<id>") or, when the store has no variant
id for it (or the merchant knows only SKUs), by its SKU ("s:<sku>"). Several suppliers may carry
one variant; priority 1 is tried first and the next ones are the fallback.

The CSV import checks every row on its own: a bad row is reported (row number, column, reason)
and changes nothing; each good row is applied in its own savepoint, so no row is ever half
applied and one failing row never undoes the others.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.orders.models import OrderLine
from app.shops.models import Shop
from app.suppliers.models import Supplier
from app.suppliers.tables import MappingImport, VariantMapping

COLUMNS = ("variant_id", "sku", "supplier", "supplier_sku", "supplier_variant", "priority", "unit_cost",
           "currency", "shipping_method")
REQUIRED = ("supplier", "supplier_sku")
MAX_ROWS = 20000
MAX_BYTES = 5 * 1024 * 1024


def match_keys(variant_id: int | None, sku: str | None) -> list[str]:
    keys = [f"v:{variant_id}"] if variant_id else []
    if sku and sku.strip():
        keys.append(f"s:{sku.strip()}")
    return keys


def mappings_for_line(session: Session, shop_id: int, line: OrderLine) -> list[VariantMapping]:
    """The line's supplier products, best first; one per supplier (a variant-id match wins)."""
    keys = match_keys(line.variant_id, line.sku)
    if not keys:
        return []
    rows = session.scalars(
        select(VariantMapping)
        .where(VariantMapping.shop_id == shop_id, VariantMapping.match_key.in_(keys))
        .order_by(VariantMapping.priority, VariantMapping.match_key.desc(), VariantMapping.id)
    ).all()
    chosen: dict[int, VariantMapping] = {}
    for row in sorted(rows, key=lambda r: (r.priority, not r.match_key.startswith("v:"), r.id)):
        chosen.setdefault(row.supplier_id, row)
    return list(chosen.values())


def unmapped_lines(session: Session, shop_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
    """Store variants seen in this shop's orders that no supplier product fills (newest first)."""
    mapped = set(session.scalars(select(VariantMapping.match_key).where(VariantMapping.shop_id == shop_id)))
    seen: dict[tuple[int | None, str | None], dict[str, Any]] = {}
    lines = session.execute(
        select(OrderLine.variant_id, OrderLine.sku, OrderLine.title, OrderLine.variant_title)
        .where(OrderLine.shop_id == shop_id)
        .order_by(OrderLine.id.desc())
        .limit(5000)
    )
    for variant_id, sku, title, variant_title in lines:
        if (variant_id, sku) in seen or mapped.intersection(match_keys(variant_id, sku)):
            continue
        seen[(variant_id, sku)] = {"variant_id": variant_id, "sku": sku, "title": title,
                                   "variant_title": variant_title}
        if len(seen) >= limit:
            break
    return list(seen.values())


# ---- CSV import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)  # {row, column, reason}
    import_id: int | None = None

    @property
    def rejected(self) -> int:
        return len({problem["row"] for problem in self.problems})


class RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def _text(row: dict[str, str], column: str, limit: int) -> str | None:
    value = (row.get(column) or "").strip()
    if len(value) > limit:
        raise RowError(column, f"longer than {limit} characters")
    return value or None


def parse_row(row: dict[str, str], suppliers: dict[str, Supplier]) -> dict[str, Any]:
    """One CSV row as VariantMapping values, or RowError naming the column and the reason."""
    variant_text = _text(row, "variant_id", 20)
    variant_id = None
    if variant_text:
        if not variant_text.isdigit() or int(variant_text) == 0 or int(variant_text) >= 2**63:
            raise RowError("variant_id", f"{variant_text!r} is not a store variant id (a positive integer)")
        variant_id = int(variant_text)
    sku = _text(row, "sku", 255)
    if variant_id is None and sku is None:
        raise RowError("variant_id", "give a variant_id or a sku (or both)")
    name = _text(row, "supplier", 255)
    if name is None:
        raise RowError("supplier", "required")
    supplier = suppliers.get(name.casefold())
    if supplier is None:
        raise RowError("supplier", f"no supplier named {name!r} in this shop")
    supplier_sku = _text(row, "supplier_sku", 255)
    if supplier_sku is None:
        raise RowError("supplier_sku", "required")
    priority_text = _text(row, "priority", 6) or "1"
    if not priority_text.isdigit() or not 1 <= int(priority_text) <= 99:
        raise RowError("priority", f"{priority_text!r} is not a whole number from 1 to 99")
    unit_cost = None
    cost_text = _text(row, "unit_cost", 20)
    if cost_text:
        try:
            unit_cost = Decimal(cost_text)
        except InvalidOperation:
            raise RowError("unit_cost", f"{cost_text!r} is not a number") from None
        if not unit_cost.is_finite() or unit_cost < 0 or unit_cost >= Decimal("1e10"):
            raise RowError("unit_cost", f"{cost_text!r} is not a cost (0 or more, below 10^10)")
    currency = (_text(row, "currency", 3) or "").upper() or None
    if currency and pycountry.currencies.get(alpha_3=currency) is None:
        raise RowError("currency", f"{currency!r} is not an ISO 4217 currency code")
    if unit_cost is not None and currency is None:
        raise RowError("currency", "required with unit_cost")
    keys = match_keys(variant_id, sku)
    return {
        "shop_id": supplier.shop_id,
        "supplier_id": supplier.id,
        "match_key": keys[0],
        "variant_id": variant_id,
        "sku": sku,
        "supplier_sku": supplier_sku,
        "supplier_variant": _text(row, "supplier_variant", 255),
        "priority": int(priority_text),
        "unit_cost": unit_cost,
        "currency": currency,
        "shipping_method": _text(row, "shipping_method", 128),
    }


def _upsert(session: Session, values: dict[str, Any]) -> None:
    statement = insert(VariantMapping).values(**values)
    updated = {k: statement.excluded[k] for k in values if k not in ("shop_id", "match_key", "supplier_id")}
    session.execute(statement.on_conflict_do_update(
        index_elements=["shop_id", "match_key", "supplier_id"], set_=updated))


def import_csv(session: Session, shop: Shop, data: bytes, *, filename: str) -> ImportReport:
    """Import a mapping CSV for one shop; flushes, the caller commits."""
    report = ImportReport()
    try:
        if len(data) > MAX_BYTES:
            raise RowError("file", f"larger than {MAX_BYTES // (1024 * 1024)} MB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RowError("file", "not UTF-8 text") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in header]
        if missing or not ({"variant_id", "sku"} & set(header)):
            needed = missing or ["variant_id or sku"]
            raise RowError(needed[0], "missing column(s): " + ", ".join(needed))
        reader.fieldnames = header
    except RowError as error:
        report.problems.append({"row": 1, "column": error.column, "reason": error.reason})
        reader = None
    suppliers = {s.name.casefold(): s for s in session.scalars(select(Supplier).where(Supplier.shop_id == shop.id))}
    seen: dict[tuple[str, int], int] = {}
    for index, row in enumerate(reader or (), start=2):  # row 1 is the header
        report.rows += 1
        if report.rows > MAX_ROWS:
            report.problems.append({"row": index, "column": "file", "reason": f"more than {MAX_ROWS} rows"})
            break
        if None in row:  # csv puts cells beyond the header under the key None
            report.problems.append({"row": index, "column": "file", "reason": "more cells than the header"})
            continue
        try:
            values = parse_row(row, suppliers)
            first = seen.setdefault((values["match_key"], values["supplier_id"]), index)
            if first != index:
                raise RowError("supplier", f"the same variant and supplier as row {first}")
            with session.begin_nested():
                _upsert(session, values)
        except RowError as error:
            report.problems.append({"row": index, "column": error.column, "reason": error.reason})
        except DBAPIError as error:  # the savepoint rolled this row back, the others stand
            report.problems.append({"row": index, "column": "row",
                                    "reason": str(error.orig).splitlines()[0][:200]})
        else:
            report.imported += 1
    digest = hashlib.sha256(data).hexdigest()
    record = MappingImport(shop_id=shop.id, filename=filename[:255], sha256=digest, rows=report.rows,
                           imported=report.imported, rejected=report.rejected, report=report.problems[:1000])
    session.add(record)
    session.flush()
    report.import_id = record.id
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="mapping.imported", source="merchant",
                    data={"import_id": record.id, "filename": filename[:255], "sha256": digest,
                          "rows": report.rows, "imported": report.imported, "rejected": report.rejected,
                          "problems": report.problems[:200]})
    return report
