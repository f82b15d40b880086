"""Insights JSON API (session token): classification, scorecards, analytics, drill-down, policy
advice and its one-click change, classified messages and the merchant's corrections. Every table
answers CSV with ?format=csv."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.db import SessionDep
from app.errors import AppError
from app.insights import advice, analytics, export, messages, queries, scorecards
from app.insights.classifier import REASONS
from app.insights.queries import Filters
from app.shops.auth import CurrentShop

router = APIRouter(prefix="/api")
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadFilter(AppError):
    code = "bad_filter"


def _month(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise BadFilter(f"{name} must be a month as YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def filters(
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    supplier_id: Annotated[int | None, Query(ge=0)] = None,
    destination: Annotated[str | None, Query(max_length=2)] = None,
    carrier: Annotated[str | None, Query(max_length=64)] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
) -> Filters:
    start, end = _month(month_from, "from"), _month(month_to, "to")
    if start and end and start > end:
        raise BadFilter("from is after to")
    return Filters(start, end, supplier_id, destination.upper() if destination else None, carrier, product)


def _table(rows: list[dict[str, Any]], fmt: str, name: str) -> Response | dict[str, Any]:
    if fmt == "csv":
        columns = list(rows[0]) if rows else ["empty"]
        return export.csv_response(rows, columns, name)
    return {"rows": rows}


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=messages.MAX_BODY)


@router.post("/classify")
def classify(shop: CurrentShop, session: SessionDep, body: ClassifyIn) -> dict[str, Any]:
    """The complaint classifier the queues use, on one text: reason, urgency, language, confidence."""
    return messages.classify_text(session, shop, body.text).as_api()


@router.get("/insights/scorecards")
def get_scorecards(
    shop: CurrentShop, session: SessionDep, by: Literal["supplier", "destination"] = "supplier",
    format: Format = "json", month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    supplier_id: Annotated[int | None, Query(ge=0)] = None,
    destination: Annotated[str | None, Query(max_length=2)] = None,
) -> Any:
    scope = filters(month_from, month_to, supplier_id, destination)
    cards = scorecards.scorecards(session, shop.id, scope, by_destination=by == "destination")
    if format == "csv":
        return _table([c.as_row() for c in cards], "csv", f"supplier-scorecards-{by}")
    return {"rows": [asdict(c) for c in cards]}


@router.get("/insights/trend")
def get_trend(
    shop: CurrentShop, session: SessionDep, format: Format = "json",
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    supplier_id: Annotated[int | None, Query(ge=0)] = None,
) -> Any:
    return _table(scorecards.trend(session, shop.id, filters(month_from, month_to, supplier_id)), format, "supplier-trend")


@router.get("/insights/analytics")
def get_analytics(
    shop: CurrentShop, session: SessionDep,
    dimension: Literal["supplier", "destination", "carrier", "product", "period", "reason"] = "supplier",
    format: Format = "json", month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    supplier_id: Annotated[int | None, Query(ge=0)] = None,
    destination: Annotated[str | None, Query(max_length=2)] = None,
    carrier: Annotated[str | None, Query(max_length=64)] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    scope = filters(month_from, month_to, supplier_id, destination, carrier, product)
    return _table(analytics.by_dimension(session, shop.id, dimension, scope), format, f"refunds-disputes-by-{dimension}")


@router.get("/insights/notification-effect")
def get_notification_effect(
    shop: CurrentShop, session: SessionDep, format: Format = "json",
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    supplier_id: Annotated[int | None, Query(ge=0)] = None,
) -> Any:
    scope = filters(month_from, month_to, supplier_id)
    return _table(analytics.notification_effect(session, shop.id, scope), format, "notification-effect")


@router.get("/insights/orders")
def get_orders(
    shop: CurrentShop, session: SessionDep, outcome: Literal[queries.OUTCOMES] = "any",  # type: ignore[valid-type]
    reason: Annotated[str | None, Query(max_length=64)] = None, format: Format = "json",
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    supplier_id: Annotated[int | None, Query(ge=0)] = None,
    destination: Annotated[str | None, Query(max_length=2)] = None,
    carrier: Annotated[str | None, Query(max_length=64)] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Drill-down: the orders behind a figure (at most 200, newest first)."""
    scope = filters(month_from, month_to, supplier_id, destination, carrier, product)
    try:
        found = queries.drill(session, shop.id, scope, outcome=outcome, reason=reason)
    except ValueError as error:
        raise BadFilter(str(error)) from None
    rows = [{"order": f.order_name, "order_id": f.order_id, "period": f.period, "supplier_id": f.supplier_id,
             "destination": f.destination, "carrier": f.carrier, "product": f.product_title,
             "revenue": str(f.revenue), "currency": f.currency,
             "refund_reasons": f.facts.get("refund_reasons"), "dispute_reasons": f.facts.get("dispute_reasons"),
             "claim_reasons": f.facts.get("claim_reasons"), "lost": f.facts.get("lost"),
             "sla": {k: v for k, v in (f.facts.get("sla") or {}).items() if k != "limits"}}
            for f in found]
    return _table(rows, format, f"orders-{outcome}")


@router.get("/insights/advice")
def get_advice(
    shop: CurrentShop, session: SessionDep, share: Annotated[float, Query()] = advice.DEFAULT_SHARE,
    format: Format = "json",
) -> Any:
    found = advice.recommendations(session, shop, share=share)
    if format == "csv":
        rows = [{"id": r.id, "kind": r.kind, "title": r.title, "applied": r.applied,
                 **{f"n_{k}": v for k, v in r.numbers.items() if not isinstance(v, dict)}} for r in found]
        columns = sorted({c for row in rows for c in row}, key=lambda c: (c not in ("id", "kind", "title", "applied"), c))
        return export.csv_response(rows, columns or ["empty"], "policy-advice")
    return {"share": share, "rows": [asdict(r) for r in found],
            "distribution": {reason: {str(d): b for d, b in sorted(buckets.items())}
                             for reason, buckets in advice.request_distribution(session, shop.id).items()},
            "remedies": advice.remedy_effect(session, shop.id)}


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float = advice.DEFAULT_SHARE


@router.post("/insights/advice/{recommendation_id}/apply")
def apply_advice(shop: CurrentShop, session: SessionDep, recommendation_id: str,
                 body: Annotated[ApplyIn | None, Body()] = None) -> dict[str, Any]:
    policy = advice.apply(session, shop, recommendation_id, share=(body or ApplyIn()).share)
    session.commit()
    return {"version": policy.version, "windows_days": policy.windows_days, "remedies": policy.remedies,
            "return_first": sorted(policy.return_first)}


@router.get("/insights/messages")
def get_messages(shop: CurrentShop, session: SessionDep, urgent: bool = False, format: Format = "json",
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    rows = []
    for m in messages.recent(session, shop.id, limit=limit, urgent_only=urgent):
        reason, is_urgent = messages.effective(m)
        rows.append({"id": m.id, "received_at": m.received_at, "source": m.source, "order_id": m.order_id,
                     "language": m.language, "reason": reason, "urgent": is_urgent, "confidence": m.confidence,
                     "model_reason": m.reason, "corrected": m.corrected_at is not None,
                     "because": m.because, "text": m.body})
    return _table(rows, format, "customer-messages")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Literal[REASONS]  # type: ignore[valid-type]
    urgent: bool


@router.post("/insights/messages/{message_id}/correction")
def correct_message(shop: CurrentShop, session: SessionDep, message_id: int, body: CorrectionIn) -> dict[str, Any]:
    message = messages.correct(session, shop, message_id, reason=body.reason, urgent=body.urgent)
    session.commit()
    return {"id": message.id, "reason": message.corrected_reason, "urgent": message.corrected_urgent}
