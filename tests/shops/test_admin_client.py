"""The Admin GraphQL client against the sandbox store: THROTTLED (HTTP 200) then success, typed
userErrors with their ledger events, retries only where repeating is safe, @idempotent."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.shops.admin_client import AdminClient, AdminTemporaryError, UserErrors, with_idempotency_key
from app.shops.subscriptions import CREATE
from tests.shops.helpers import install_quietly, kinds, new_domain, store_url

SHOP_QUERY = "{ shop { myshopifyDomain } }"


@pytest.fixture
def installed(client, live_server):
    return install_quietly(new_domain("admin"))


def test_throttled_then_success(installed):
    domain = installed.domain
    control = httpx.post(f"{store_url()}/_control/throttle", json={
        "shop": domain, "currently_available": 0, "restore_rate": 2}, timeout=10)
    assert control.status_code == 200
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        import time

        time.sleep(seconds)

    with AdminClient.for_shop(installed, sleep=sleep) as client:
        data = client.query(SHOP_QUERY)
        statuses = [call.status for call in client.calls]
    assert data["shop"]["myshopifyDomain"] == domain
    assert statuses == [200, 200]  # THROTTLED arrives as HTTP 200, then the retry succeeds
    assert len(waits) == 1 and 0 < waits[0] < 1.0  # waited for the missing point at 2/s, not blindly


def test_throttled_past_the_budget_is_a_temporary_error(installed):
    httpx.post(f"{store_url()}/_control/throttle", json={
        "shop": installed.domain, "currently_available": 0, "restore_rate": 0}, timeout=10)
    try:
        with AdminClient.for_shop(installed, throttle_retries=2, sleep=lambda s: None) as client:
            with pytest.raises(AdminTemporaryError, match="throttled"):
                client.query(SHOP_QUERY)
            assert len(client.calls) == 3
    finally:
        httpx.post(f"{store_url()}/_control/throttle", json={"shop": installed.domain, "reset": True}, timeout=10)


def test_user_errors_are_typed_and_in_the_ledger(installed):
    variables = {"topic": "ORDERS_CREATE", "webhookSubscription": {"uri": "ftp://not-an-address", "format": "JSON"}}
    with AdminClient.for_shop(installed) as client, pytest.raises(UserErrors) as raised:
        client.mutate(CREATE, variables)
    assert raised.value.mutation == "webhookSubscriptionCreate"
    assert raised.value.errors[0]["message"] == "Address is invalid"
    assert kinds(installed.domain, "store.mutation") == ["store.mutation_attempted", "store.mutation_rejected"]
    with get_sessionmaker()() as session:
        event = session.scalar(select(EvidenceEvent).where(EvidenceEvent.chain == installed.domain,
                                                           EvidenceEvent.kind == "store.mutation_rejected"))
    assert event.data["mutation"] == "webhookSubscriptionCreate"
    assert event.data["user_errors"][0]["message"] == "Address is invalid"


class Flaky(httpx.BaseTransport):
    """Answers 503 the first `failures` times, then forwards to the live server."""

    def __init__(self, failures: int) -> None:
        self.failures, self.seen = failures, 0
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen <= self.failures:
            return httpx.Response(503, request=request)
        return self.real.handle_request(request)


def test_5xx_retried_for_queries_and_idempotent_mutations_only(installed):
    flaky = Flaky(2)
    with AdminClient.for_shop(installed, transport=flaky, sleep=lambda s: None) as client:
        assert client.query(SHOP_QUERY)["shop"]["myshopifyDomain"] == installed.domain
    assert flaky.seen == 3
    variables = {"topic": "REFUNDS_CREATE", "webhookSubscription": {"uri": "https://example.com/x", "format": "JSON"}}
    with (AdminClient.for_shop(installed, transport=Flaky(1), sleep=lambda s: None) as client,
          pytest.raises(AdminTemporaryError)):
        client.mutate(CREATE, variables)  # no key: never repeated blindly
    assert kinds(installed.domain, "store.mutation")[-1] == "store.mutation_failed"


def test_idempotency_key_directive_is_added_to_the_root_field():
    text = with_idempotency_key(CREATE, 'key-1"x')
    assert '@idempotent(key: "key-1\\"x")' in text
    assert text.index("webhookSubscriptionCreate") < text.index("@idempotent")


def test_workers_of_one_shop_pace_themselves_on_one_shared_bucket(installed):
    """What one worker's answer said about the shop's bucket, another worker waits for before it
    sends, instead of being throttled first."""
    from app.shops import cost_bucket

    domain = installed.domain
    try:
        with AdminClient.for_shop(installed, sleep=lambda s: None) as first:
            first.query(SHOP_QUERY)  # learns this query's cost
            cost = first._costs[SHOP_QUERY]
        # The store's bucket runs dry (other apps' calls, say) and refills at 2 points a second;
        # the first worker's next answer is THROTTLED, and says so.
        httpx.post(f"{store_url()}/_control/throttle", json={
            "shop": domain, "currently_available": 0, "restore_rate": 2}, timeout=10)
        with AdminClient.for_shop(installed, throttle_retries=0, sleep=lambda s: None) as first:
            first._costs[SHOP_QUERY] = cost
            with pytest.raises(AdminTemporaryError):
                first.query(SHOP_QUERY)

        waits: list[float] = []
        with AdminClient.for_shop(installed, sleep=waits.append) as second:
            second._costs[SHOP_QUERY] = cost  # as it would know from its own earlier calls
            second._wait_for_budget(SHOP_QUERY)
        # It waits for the refill before sending, instead of being throttled first.
        assert waits and 0 < waits[0] <= cost / 2 + 0.1, waits
    finally:
        cost_bucket.forget(domain)
        httpx.post(f"{store_url()}/_control/throttle", json={"shop": domain, "reset": True}, timeout=10)


def test_shared_bucket_estimate_takes_costs_and_refills():
    from app.shops import cost_bucket

    domain = new_domain("bucket")
    assert cost_bucket.take(domain, 50) == 0  # nothing known yet: go
    cost_bucket.observe(domain, available=100, restore_rate=50, maximum=1000)
    try:
        assert cost_bucket.take(domain, 60) == 0  # 100 -> 40
        wait = cost_bucket.take(domain, 60)  # 40, plus a few ms of refill, is short of 60
        assert 0 < wait <= 20 / 50
        cost_bucket.observe(domain, available=0, restore_rate=0, maximum=1000)  # no rate: ignored
        assert 0 < cost_bucket.take(domain, 60) <= 20 / 50
    finally:
        cost_bucket.forget(domain)
