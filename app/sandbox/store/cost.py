"""Query cost and the per-shop leaky bucket, computed the way Shopify's Admin GraphQL does.

Objects cost 1, connections 2, lists multiply by `first`/`last` (or by what came back, for the
actual cost), scalars and enums nothing, each mutation field 10. The bucket must hold the
requested cost before a query runs; the difference to the actual cost is refunded afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import get_argument_values

from app.redis import get_redis, key

MAXIMUM_AVAILABLE = 2000.0
RESTORE_RATE = 100.0
SINGLE_QUERY_MAX = 1000
MUTATION_COST = 10

# Refill by elapsed time, then take `cost` if the bucket holds it (a negative cost refunds).
# Per-shop overrides of size and rate live in the same hash (set through the control API).
_BUCKET = """
local state = redis.call('HMGET', KEYS[1], 'available', 'ts', 'max', 'rate')
local max = tonumber(state[3]) or tonumber(ARGV[1])
local rate = tonumber(state[4]) or tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local available = tonumber(state[1]) or max
local ts = tonumber(state[2]) or now
available = math.min(max, available + math.max(0, now - ts) * rate)
local ok = 0
if cost <= available then
  available = math.min(max, available - cost)
  ok = 1
end
redis.call('HSET', KEYS[1], 'available', tostring(available), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 86400)
return {ok, tostring(available), tostring(max), tostring(rate)}
"""


@dataclass(frozen=True)
class Throttle:
    allowed: bool
    currently_available: float
    maximum_available: float
    restore_rate: float

    def status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": int(self.currently_available),
            "restoreRate": self.restore_rate,
        }


def _bucket_key(shop_domain: str) -> str:
    return key("sandbox", "shopify", "bucket", shop_domain)


def take(shop_domain: str, cost: float) -> Throttle:
    ok, available, maximum, rate = get_redis().eval(
        _BUCKET, 1, _bucket_key(shop_domain), MAXIMUM_AVAILABLE, RESTORE_RATE, cost, time.time()
    )
    return Throttle(bool(ok), float(available), float(maximum), float(rate))


def configure(
    shop_domain: str, *, currently_available: float | None = None, maximum_available: float | None = None,
    restore_rate: float | None = None,
) -> Throttle:
    """Control API: resize the bucket, change its rate, or set its level (to test throttling)."""
    fields: dict[str, str] = {}
    if maximum_available is not None:
        fields["max"] = str(maximum_available)
    if restore_rate is not None:
        fields["rate"] = str(restore_rate)
    if currently_available is not None:
        fields.update(available=str(currently_available), ts=str(time.time()))
    if fields:
        get_redis().hset(_bucket_key(shop_domain), mapping=fields)
    return take(shop_domain, 0)


def reset(shop_domain: str) -> Throttle:
    get_redis().delete(_bucket_key(shop_domain))
    return take(shop_domain, 0)


class _Walk:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def fields(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found += self.fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in self.fragments:
                found += self.fields(self.fragments[selection.name.value].selection_set)
        return found

    def cost(self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None, value: Any,
             inherited: int | None, actual: bool) -> int:
        total = 0
        for node in self.fields(selection_set):
            definition = parent.fields.get(node.name.value)
            named = get_named_type(definition.type) if definition else None
            if not isinstance(named, GraphQLObjectType):
                continue  # scalars, enums and introspection are free
            size = get_argument_values(definition, node, self.variables)
            size = size.get("first") or size.get("last")
            base = 2 if named.name.endswith("Connection") else 1
            child = value.get((node.alias or node.name).value) if isinstance(value, dict) else None
            if is_list_type(get_nullable_type(definition.type)):
                if actual:
                    items = child if isinstance(child, list) else []
                    total += sum(base + self.cost(named, node.selection_set, item, None, True) for item in items)
                else:
                    count = size or inherited or 1
                    total += count * (base + self.cost(named, node.selection_set, None, None, False))
            elif actual and child is None:
                total += base
            else:
                total += base + self.cost(named, node.selection_set, child, size, actual)
        return total


def query_cost(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
    variables: dict[str, Any], data: Any = None, *, actual: bool = False,
) -> int:
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * len(_Walk(schema, document, variables).fields(operation.selection_set))
    root = schema.query_type
    return _Walk(schema, document, variables).cost(root, operation.selection_set, data, None, actual)
