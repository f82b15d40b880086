"""One Admin GraphQL request: authenticate, parse, validate, price, throttle, execute, refund."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, execute_sync, get_operation_ast, parse, validate
from graphql.execution.values import get_variable_values

from app.sandbox import delivery
from app.sandbox.store import cost, oauth, state, usage
from app.sandbox.store.schema import ROOT, SCHEMA

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105 - an error text
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    deliveries: list[delivery.Delivery] = field(default_factory=list)
    # How long to hold the answer back (a lost answer, set through the control API).
    hold_seconds: float = 0.0


def _errors(errors: list[GraphQLError]) -> Answer:
    return Answer(200, {"errors": [error.formatted for error in errors]})


def _cost_block(requested: int, actual: int | None, throttle: cost.Throttle) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": throttle.status()}}


def run(shop_domain: str, token: str | None, payload: Any, api_version: str | None = None) -> Answer:
    shop = state.get_shop(shop_domain)
    if shop is None:
        return Answer(404, {"errors": "Not Found"})
    if state.shop_for_token(token) != shop_domain or oauth.is_expired(token):
        return Answer(401, {"errors": INVALID_TOKEN})
    oauth.token_used(token)
    query = payload.get("query") if isinstance(payload, dict) else None
    variables = payload.get("variables") if isinstance(payload, dict) else None
    if not isinstance(query, str) or not query.strip():
        return Answer(400, {"errors": {"query": "Required parameter missing or invalid"}})
    if variables is not None and not isinstance(variables, dict):
        return Answer(400, {"errors": {"variables": "must be a JSON object"}})
    try:
        document = parse(query)
    except GraphQLError as error:
        return _errors([error])
    if problems := validate(SCHEMA, document):
        return _errors(problems)
    operation_name = payload.get("operationName")
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        message = f"No operation named '{operation_name}'" if operation_name else "An operation name is required"
        return _errors([GraphQLError(message)])
    coerced = get_variable_values(SCHEMA, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return _errors(coerced)

    requested = cost.query_cost(SCHEMA, document, operation, coerced)
    if requested > cost.SINGLE_QUERY_MAX:
        throttle = cost.take(shop_domain, 0)
        return Answer(200, {
            "errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                           f"({cost.SINGLE_QUERY_MAX}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": cost.SINGLE_QUERY_MAX,
                               "documentation": RATE_LIMITS_DOC},
            }],
            "extensions": _cost_block(requested, None, throttle),
        })
    throttle = cost.take(shop_domain, requested)
    kind = operation.operation.value  # query | mutation, for the usage log
    if not throttle.allowed:
        usage.record(shop_domain, operation=kind, requested=requested, actual=None,
                     available=throttle.currently_available, throttled=True)
        return Answer(200, {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC}}],
            "extensions": _cost_block(requested, None, throttle),
        })

    # The version in the request's path: a few fields exist only in some (dispute file uploads).
    context: dict[str, Any] = {"shop": shop, "deliveries": [], "api_version": api_version}
    result = execute_sync(
        SCHEMA, document, root_value=ROOT, context_value=context, variable_values=variables or {},
        operation_name=operation_name,
    )
    actual = cost.query_cost(SCHEMA, document, operation, coerced, result.data, actual=True)
    throttle = cost.take(shop_domain, actual - requested)  # refund what the query did not use
    usage.record(shop_domain, operation=kind, requested=requested, actual=actual,
                 available=throttle.currently_available, throttled=False)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    body["extensions"] = _cost_block(requested, actual, throttle)
    return Answer(200, body, context["deliveries"], context.get("hold_seconds", 0.0))
