from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class RiskModelRead(BaseModel):
    kind: Literal["rules", "learned"]
    version: str
    trained_at: datetime | None


class RiskRead(BaseModel):
    """An order's risk: the calibrated probability of a refund or chargeback of any kind."""

    probability: float = Field(ge=0, le=1)
    level: Literal["low", "medium", "high"]
    reasons: list[str]
    actions: list[str]
    model: RiskModelRead
    scored_at: datetime
