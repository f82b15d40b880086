"""The record of one call we made to another system (a supplier, the store's Admin API, a carrier
aggregator): what was asked, what came back and how long it took, without bodies (they carry
addresses and credentials). Callers keep the calls they made and write them to the ledger together
with what the calls meant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    status: int | None
    duration_ms: int
    error: str | None = None

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": self.duration_ms,
        }
        if self.error:
            data["error"] = self.error
        return data
