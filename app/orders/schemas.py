from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.risk.schemas import RiskRead


class TimelineEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    kind: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]
    hash: str


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str | None
    title: str
    variant_title: str | None
    quantity: int
    price: Decimal


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: int
    name: str
    status: str
    financial_status: str | None
    fulfillment_status: str | None
    currency: str
    total_price: Decimal
    locale: str
    created_at: datetime
    source_updated_at: datetime
    lines: list[OrderLineRead]


class OrderWithTimeline(OrderRead):
    timeline: list[TimelineEvent]
    # None until the order is scored (when it is paid).
    risk: RiskRead | None = None
