"""orderRiskAssessmentCreate and Order.risk for the store emulator, with Shopify's validation.

As on Shopify (Admin API 2026-07): up to 20 facts per assessment, each description truncated at
256 characters; an unknown order (or another shop's) is NOT_FOUND, a fulfilled one
ORDER_ALREADY_FULFILLED, more than 20 facts TOO_MANY_FACTS, an empty description INVALID. Every
call adds an assessment (the mutation has no idempotency of its own) and an
`orders/risk_assessment_changed` webhook goes to a subscribed address. The order's `risk` lists
them with the app as provider.

For tests of exactly-once publishing, `POST /_control/risk/hang` makes the next calls store
their assessment and then hold the answer back, like a store that applied a call whose answer is
lost.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from graphql import GraphQLError, GraphQLResolveInfo
from pydantic import BaseModel, Field, ValidationError

from app.db import utcnow
from app.redis import get_redis
from app.sandbox.store import fulfil, orders, state, subscriptions, webhooks

MAX_FACTS = 20
MAX_DESCRIPTION = 256
TOPIC = "orders/risk_assessment_changed"
APP_TITLE = "Dropguard"

SDL = """
enum RiskAssessmentResult { HIGH MEDIUM LOW NONE PENDING }
enum RiskFactSentiment { NEGATIVE NEUTRAL POSITIVE }
enum OrderRiskRecommendationResult { ACCEPT CANCEL INVESTIGATE NONE }
enum OrderRiskAssessmentCreateUserErrorCode { INVALID NOT_FOUND ORDER_ALREADY_FULFILLED TOO_MANY_FACTS }
input OrderRiskAssessmentFactInput { description: String! sentiment: RiskFactSentiment! }
input OrderRiskAssessmentCreateInput {
  orderId: ID! riskLevel: RiskAssessmentResult! facts: [OrderRiskAssessmentFactInput!]!
}
type RiskFact { description: String! sentiment: RiskFactSentiment! }
type RiskAssessmentProvider { title: String! }
type OrderRiskAssessment { riskLevel: RiskAssessmentResult! facts: [RiskFact!]! provider: RiskAssessmentProvider }
type OrderRiskSummary { assessments: [OrderRiskAssessment!]! recommendation: OrderRiskRecommendationResult! }
type OrderRiskAssessmentCreateUserError { field: [String!] message: String! code: OrderRiskAssessmentCreateUserErrorCode }
type OrderRiskAssessmentCreatePayload {
  orderRiskAssessment: OrderRiskAssessment userErrors: [OrderRiskAssessmentCreateUserError!]!
}
extend type Order { risk: OrderRiskSummary! }
extend type Mutation {
  orderRiskAssessmentCreate(orderRiskAssessmentInput: OrderRiskAssessmentCreateInput!): OrderRiskAssessmentCreatePayload
}
"""


def _hang_key() -> str:
    return state.k("risk", "hang")


def _error(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def _view(assessment: dict[str, Any]) -> dict[str, Any]:
    return {"riskLevel": assessment["risk_level"], "provider": {"title": assessment["provider"]},
            "facts": [{"description": f["description"], "sentiment": f["sentiment"]} for f in assessment["facts"]]}


def _recommendation(assessments: list[dict[str, Any]]) -> str:
    latest = assessments[-1]["risk_level"] if assessments else None
    return {"HIGH": "CANCEL", "MEDIUM": "INVESTIGATE", "LOW": "ACCEPT"}.get(latest or "", "NONE")


def order_fields(document: dict[str, Any]) -> dict[str, Any]:
    assessments = document["order"].get("risk_assessments") or []
    return {"risk": {"assessments": [_view(a) for a in assessments], "recommendation": _recommendation(assessments)}}


def create(shop: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], list]:
    order_id = fulfil.parse_gid(given.get("orderId"), "Order")
    if order_id is None:
        raise GraphQLError(f"Invalid global id '{given.get('orderId')}'")
    facts = given.get("facts") or []
    if len(facts) > MAX_FACTS:
        return {"orderRiskAssessment": None, "userErrors": [
            _error(["orderRiskAssessmentInput", "facts"], f"Facts can't exceed {MAX_FACTS}.", "TOO_MANY_FACTS")]}, []
    for index, fact in enumerate(facts):
        if not str(fact.get("description") or "").strip():
            return {"orderRiskAssessment": None, "userErrors": [
                _error(["orderRiskAssessmentInput", "facts", str(index), "description"],
                       "Description can't be blank.", "INVALID")]}, []
    assessment = {
        "risk_level": given["riskLevel"], "provider": APP_TITLE, "created_at": orders.timestamp(utcnow()),
        "facts": [{"description": str(f["description"])[:MAX_DESCRIPTION], "sentiment": f["sentiment"]}
                  for f in facts],
    }

    def change(document: dict[str, Any], _pipe) -> dict[str, Any]:
        if document["shop"] != shop["domain"]:
            return {"user_errors": [_error(["orderRiskAssessmentInput", "orderId"], "Order does not exist.",
                                           "NOT_FOUND")]}
        order = document["order"]
        if order.get("fulfillment_status") == "fulfilled":
            return {"user_errors": [_error(["orderRiskAssessmentInput", "orderId"],
                                           "The order is fulfilled and can't take new risk assessments.",
                                           "ORDER_ALREADY_FULFILLED")]}
        order.setdefault("risk_assessments", []).append(assessment)
        return {"write": True, "order": order}

    result = state.update_order(order_id, change)
    if result is None:
        return {"orderRiskAssessment": None, "userErrors": [
            _error(["orderRiskAssessmentInput", "orderId"], "Order does not exist.", "NOT_FOUND")]}, []
    if result.get("user_errors"):
        return {"orderRiskAssessment": None, "userErrors": result["user_errors"]}, []
    deliveries = []
    if subscriptions.address_for(shop["domain"], TOPIC):
        deliveries.append(webhooks.webhook(shop, TOPIC, {
            "order_id": order_id, "admin_graphql_api_id": orders.gid("Order", order_id),
            "risk_level": assessment["risk_level"].lower(), "provider_title": APP_TITLE,
            "created_at": assessment["created_at"]}))
    _hang_if_asked()
    return {"orderRiskAssessment": _view(assessment), "userErrors": []}, deliveries


def _hang_if_asked() -> None:
    client = get_redis()
    raw = client.get(_hang_key())
    if raw is None:
        return
    rule = json.loads(raw)
    if rule["count"] <= 1:
        client.delete(_hang_key())
    else:
        client.set(_hang_key(), json.dumps({**rule, "count": rule["count"] - 1}))
    time.sleep(rule["seconds"])


def _resolve_create(info: GraphQLResolveInfo, orderRiskAssessmentInput: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
    payload, deliveries = create(info.context["shop"], orderRiskAssessmentInput)
    info.context["deliveries"].extend(deliveries)
    return payload


ROOT = {"orderRiskAssessmentCreate": _resolve_create}


class HangIn(BaseModel):
    seconds: float = Field(gt=0, le=120)
    count: int = Field(default=1, ge=1, le=100)


router = APIRouter()


@router.post("/_control/risk/hang")
async def control_hang(request: Request) -> JSONResponse:
    try:
        rule = HangIn.model_validate_json(await request.body() or b"{}")
    except ValidationError as error:
        return JSONResponse({"error": str(error.errors()[0]["msg"])}, status_code=400)
    get_redis().set(_hang_key(), rule.model_dump_json(), ex=600)
    return JSONResponse({"hang": rule.model_dump()})
