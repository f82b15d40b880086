"""The Admin GraphQL client: pinned API version, cost-aware throttling, jittered retries, the
@idempotent directive, typed userErrors, and every mutation recorded in the ledger.

Throttling: Shopify answers THROTTLED with HTTP 200 (not 429) and a cost block; the client waits
until the leaky bucket holds the query's requested cost, and before each request it waits if the
bucket level last reported to any worker (shared in Redis, restored at restoreRate since) is
below the cost it expects.
Retries: 5xx and network errors are retried with jittered exponential backoff for queries and for
mutations carrying an idempotency key; a mutation without one is never repeated blindly (the
caller asks the store first, as the fulfilment push does).
Ledger: a mutation's attempt is committed before the call and its outcome after, in short
transactions of the client's own; so never call `mutate` while holding a transaction that has
appended evidence for the same shop (it would wait for its own chain head).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    parse,
    print_ast,
)
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from app import http_clients
from app.config import get_settings
from app.db import session_scope
from app.evidence import service as evidence
from app.external_calls import Call
from app.metrics import EXTERNAL_CALLS
from app.shops import cost_bucket, tokens
from app.shops.models import Shop

TIMEOUT_SECONDS = 10.0


class AdminError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AdminTemporaryError(AdminError):
    """Network error, 5xx or THROTTLED after the retries allowed: the call may work later."""


class AdminUnauthorized(AdminError):
    """401/403: the token is invalid or revoked (uninstalled), or a scope is missing."""


class GraphQLErrors(AdminError):
    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class UserErrors(AdminError):
    """A mutation ran and refused the input: `errors` are its userErrors ({field, message, code?})."""

    def __init__(self, mutation: str, errors: list[dict[str, Any]]) -> None:
        text = "; ".join(str(e.get("message")) for e in errors)[:500]
        super().__init__(f"{mutation} refused: {text}")
        self.mutation, self.errors = mutation, errors


class _Retryable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def root_field(query: str) -> tuple[OperationDefinitionNode, FieldNode]:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    field = next(s for s in operation.selection_set.selections if isinstance(s, FieldNode))
    return operation, field


def with_idempotency_key(mutation: str, key: str) -> str:
    """The mutation with `@idempotent(key: "...")` on its root field (Shopify 2026-01+)."""
    _, field = root_field(mutation)
    directive = DirectiveNode(name=NameNode(value="idempotent"), arguments=(
        ArgumentNode(name=NameNode(value="key"), value=StringValueNode(value=key)),
    ))
    kept = [d for d in field.directives or () if d.name.value != "idempotent"]
    # AST nodes are frozen: print the field's head (alias, name, arguments, directives) with the
    # directive added and put it in place of the original head in the text.
    head = print_ast(FieldNode(alias=field.alias, name=field.name, arguments=field.arguments,
                               directives=(*kept, directive), selection_set=None))
    start = field.loc.start
    end = field.selection_set.loc.start if field.selection_set else field.loc.end
    return f"{mutation[:start]}{head} {mutation[end:]}"


class AdminClient:
    """One shop's Admin GraphQL API. Build with `AdminClient.for_shop(shop)` to get tokens that
    refresh themselves, or with an explicit access token."""

    def __init__(
        self, *, shop_domain: str, access_token: str, shop_id: int | None = None,
        transport: httpx.BaseTransport | None = None, retries: int = 4, throttle_retries: int = 8,
        record_mutations: bool = True, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        settings = get_settings()
        self.shop_domain, self.shop_id = shop_domain, shop_id
        self.path = f"/admin/api/{settings.shopify_api_version}/graphql.json"
        self.calls: list[Call] = []
        self.retries, self.throttle_retries = retries, throttle_retries
        self.record_mutations = record_mutations
        self._token, self._transport, self._sleep = access_token, transport, sleep
        # Requested costs by query text (the bucket's level is shared: app/shops/cost_bucket.py).
        self._costs: dict[str, float] = {}
        self._http = http_clients.client(
            base_url=settings.admin_base(shop_domain), timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=5.0),
            transport=transport, headers={"Content-Type": "application/json"},
        )

    @classmethod
    def for_shop(cls, shop: Shop, **kwargs: Any) -> AdminClient:
        token = tokens.access_token_for(shop.id, transport=kwargs.get("transport"))
        return cls(shop_domain=shop.domain, access_token=token, shop_id=shop.id, **kwargs)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- throttling ---------------------------------------------------------------------------

    def _note_cost(self, query: str, answer: dict[str, Any]) -> dict[str, Any] | None:
        cost = (answer.get("extensions") or {}).get("cost") if isinstance(answer, dict) else None
        if not isinstance(cost, dict):
            return None
        status = cost.get("throttleStatus") or {}
        if cost.get("requestedQueryCost") is not None:
            self._costs[query] = float(cost["requestedQueryCost"])
        if status.get("currentlyAvailable") is not None and status.get("restoreRate"):
            available = float(status["currentlyAvailable"])
            cost_bucket.observe(
                self.shop_domain,
                available=available,
                restore_rate=float(status["restoreRate"]),
                maximum=float(status.get("maximumAvailable") or available),
            )
        return cost

    def _wait_for_budget(self, query: str) -> None:
        # The bucket is the shop's, shared by every worker: take the expected cost from the shared
        # estimate (app/shops/cost_bucket.py), waiting while it is short.
        needed = self._costs.get(query)
        if needed is None:
            return
        for _ in range(self.throttle_retries + 1):
            wait = cost_bucket.take(self.shop_domain, needed)
            if wait <= 0:
                return
            # Another worker may take what refills meanwhile: wait, then ask again.
            self._sleep(wait + random.uniform(0.0, 0.05))  # noqa: S311 - jitter

    # -- one request ----------------------------------------------------------------------------

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        call = Call(method="POST", path=self.path, status=None, duration_ms=0)
        self.calls.append(call)
        started = time.monotonic()
        try:
            response = self._http.post(self.path, json={"query": query, "variables": variables},
                                       headers={"X-Shopify-Access-Token": self._token})
            call.status = response.status_code
        except httpx.TransportError as error:
            kind = "timeout" if isinstance(error, httpx.TimeoutException) else "transport"
            call.error = f"{kind}: {type(error).__name__}"
            raise _Retryable(f"store call failed: {call.error}") from None
        finally:
            call.duration_ms = round((time.monotonic() - started) * 1000)
            EXTERNAL_CALLS.labels("store", f"{call.status // 100}xx" if call.status else "error").inc()
        if response.status_code == 429 or response.status_code >= 500:
            call.error = f"HTTP {response.status_code}"
            raise _Retryable(f"store answered HTTP {response.status_code}")
        if response.status_code in (401, 403):
            call.error = f"HTTP {response.status_code}"
            raise AdminUnauthorized(f"store refused the token: HTTP {response.status_code}")
        if response.status_code >= 400:
            call.error = f"HTTP {response.status_code}"
            raise AdminError(f"store refused the call: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            call.error = "unreadable answer"
            raise _Retryable("store answered with an unreadable body") from None
        if not isinstance(answer, dict):
            call.error = "unreadable answer"
            raise _Retryable("store answered with an unreadable body")
        return answer

    def _authorised_post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._post(query, variables)
        except AdminUnauthorized:
            if self.shop_id is None:
                raise
            # An expiring token may have been refused early (clock skew, revoked by a refresh
            # elsewhere): get the current one, refreshing if ours is still stored, and try once.
            try:
                fresh = tokens.access_token_for(self.shop_id, failed_token=self._token, transport=self._transport)
            except tokens.TokenError as error:
                raise AdminUnauthorized(f"store refused the token and it could not be renewed: {error.message}") from None
            if fresh == self._token:
                raise
            self._token = fresh
            return self._post(query, variables)

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, retry: bool = True) -> dict[str, Any]:
        """The whole answer (data, extensions), after throttling and retries; GraphQL errors raise."""
        variables = variables or {}
        throttled = 0
        while True:
            self._wait_for_budget(query)
            answer = self._send(query, variables, retry=retry)
            cost = self._note_cost(query, answer)
            errors = answer.get("errors")
            if not errors:
                return answer
            if isinstance(errors, list) and any(
                isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
            ):
                if throttled >= self.throttle_retries:
                    raise AdminTemporaryError("store throttled the call (bucket empty)")
                throttled += 1
                self._sleep(self._throttle_delay(cost, throttled))
                continue
            listed = errors if isinstance(errors, list) else [{"message": str(errors)}]
            message = "; ".join(str(e.get("message")) for e in listed if isinstance(e, dict))[:500]
            self.calls[-1].error = message or "GraphQL errors"
            raise GraphQLErrors(f"store GraphQL errors: {message}", listed)

    def _throttle_delay(self, cost: dict[str, Any] | None, attempt: int) -> float:
        status = (cost or {}).get("throttleStatus") or {}
        requested, rate = (cost or {}).get("requestedQueryCost"), status.get("restoreRate")
        if requested is not None and rate:
            missing = float(requested) - float(status.get("currentlyAvailable") or 0)
            return max(missing, 0) / float(rate) + random.uniform(0.05, 0.25)  # noqa: S311 - jitter
        return min(2.0 ** attempt, 30.0) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter

    def _send(self, query: str, variables: dict[str, Any], *, retry: bool) -> dict[str, Any]:
        attempts = self.retries + 1 if retry else 1
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(attempts), wait=wait_random_exponential(multiplier=0.5, max=8),
                retry=retry_if_exception_type(_Retryable), sleep=self._sleep, reraise=False,
            ):
                with attempt:
                    return self._authorised_post(query, variables)
        except RetryError as error:
            last = error.last_attempt.exception()
            raise AdminTemporaryError(getattr(last, "message", str(last))) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        data = self.execute(query, variables).get("data")
        if not isinstance(data, dict):
            raise AdminTemporaryError("store answered without data")
        return data

    # -- mutations ------------------------------------------------------------------------------

    def mutate(
        self, mutation: str, variables: dict[str, Any] | None = None, *, idempotency_key: str | None = None,
        order_id: int | None = None, raise_user_errors: bool = True,
    ) -> dict[str, Any]:
        """Run a mutation and return its payload (the root field's value). userErrors raise
        UserErrors (unless raise_user_errors=False); attempt and outcome go to the ledger."""
        try:
            operation, field = root_field(mutation)
        except (GraphQLError, StopIteration):
            raise AdminError("not a GraphQL mutation") from None
        if operation.operation != OperationType.MUTATION:
            raise AdminError("mutate() takes a mutation; use query() for reads")
        name = field.name.value
        if idempotency_key:
            mutation = with_idempotency_key(mutation, idempotency_key)
        variables = variables or {}
        facts = {"mutation": name, "idempotency_key": idempotency_key, "api_version": get_settings().shopify_api_version,
                 "variables_sha256": hashlib.sha256(json.dumps(variables, sort_keys=True, default=str).encode()).hexdigest()}
        self._record("store.mutation_attempted", facts, order_id)
        try:
            data = self.execute(mutation, variables, retry=idempotency_key is not None).get("data") or {}
        except AdminError as error:
            outcome = "store.mutation_failed" if isinstance(error, AdminTemporaryError) else "store.mutation_refused"
            self._record(outcome, {**facts, "error": error.message[:500], "calls": self._call_data()}, order_id)
            raise
        payload = data.get((field.alias or field.name).value) or {}
        user_errors = payload.get("userErrors") or [] if isinstance(payload, dict) else []
        if user_errors:
            self._record("store.mutation_rejected", {**facts, "user_errors": user_errors, "calls": self._call_data()},
                         order_id)
            if raise_user_errors:
                raise UserErrors(name, user_errors)
            return payload
        self._record("store.mutation_succeeded", {**facts, "calls": self._call_data()}, order_id)
        return payload

    def _call_data(self) -> list[dict[str, Any]]:
        return [call.as_data() for call in self.calls[-5:]]

    def _record(self, kind: str, data: dict[str, Any], order_id: int | None) -> None:
        if not self.record_mutations:
            return
        with session_scope() as session:
            shop_id = self.shop_id
            if shop_id is None:
                shop = session.query(Shop).filter_by(domain=self.shop_domain).one_or_none()
                shop_id = shop.id if shop else None
            evidence.record(session, chain=self.shop_domain, shop_id=shop_id, order_id=order_id, kind=kind,
                            source="dropguard", data=data)
