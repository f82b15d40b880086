"""CSV export of any insights table: one header row from the columns, values as the page shows
them in plain form (rates as fractions, amounts in the shop's currency units, dates ISO)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from fastapi.responses import Response

# Spreadsheet programs run a cell that starts with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and name.endswith("_cents"):
        return f"{value / 100:.2f}"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.removesuffix("_cents") if c.endswith("_cents") else c for c in columns])
    for row in rows:
        writer.writerow([_cell(c, row.get(c)) for c in columns])
    return out.getvalue()


def csv_response(rows: list[dict[str, Any]], columns: Sequence[str], filename: str) -> Response:
    return Response(
        to_csv(rows, columns), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"', "Cache-Control": "no-store"},
    )
