"""Request bodies of the generic supplier protocol and of its control API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(min_length=1, max_length=255)]


class Line(BaseModel):
    sku: str | None = Field(default=None, max_length=255)
    title: Text
    quantity: int = Field(ge=1, le=10000)


class ShipTo(BaseModel):
    name: Text
    address1: Text
    address2: str | None = None
    city: Text
    province_code: str | None = None
    zip: str | None = None
    country_code: str = Field(pattern=r"^[A-Za-z]{2}$")
    phone: str | None = None


class OrderIn(BaseModel):
    reference: Text
    shop: Text
    lines: list[Line] = Field(min_length=1, max_length=250)
    ship_to: ShipTo
    callback_url: str = Field(pattern=r"^https?://", max_length=2000)


class BehaviourIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency_ms: int | None = Field(default=None, ge=0, le=120000)
    fail_next: int | None = Field(default=None, ge=0)
    hang_next: int | None = Field(default=None, ge=0)
    hang_ms: int | None = Field(default=None, ge=0, le=600000)
    out_of_stock: list[str] | None = None
    confirm_after_s: float | None = Field(default=None, ge=0)
    ship_after_s: float | None = Field(default=None, ge=0)
    auto_advance: bool | None = None
