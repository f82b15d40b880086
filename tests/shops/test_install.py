"""Installing the app: token exchange and the authorization-code grant against the sandbox store,
the OAuth bad-input matrix, concurrent refreshes of expiring tokens."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from app.db import get_sessionmaker, utcnow
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from app.shops import secrets, tokens
from app.shops.admin_client import AdminClient
from app.shops.models import Shop
from app.shops.oauth import query_hmac
from app.shops.tasks import sync_subscriptions
from tests.fixtures import wait_for
from tests.shops.helpers import (
    install_by_token_exchange,
    kinds,
    load_shop,
    new_domain,
    oauth_state,
    store_url,
)

SECRET = "test-api-secret"


def _shop_count(domain: str) -> int:
    with get_sessionmaker()() as session:
        return session.scalar(select(func.count()).select_from(Shop).where(Shop.domain == domain))


def test_token_exchange_install_then_a_webhook_is_processed(client, live_server, celery_worker):
    domain = new_domain()
    body = install_by_token_exchange(client, domain)
    assert body == {"shop": domain, "installed": True, "reconsent_required": False}
    shop = load_shop(domain)
    assert shop.installed_via == "token_exchange" and shop.access_token_expires_at > utcnow()
    access = secrets.decrypt(shop.access_token_encrypted)
    assert access.startswith("shpat_") and access.encode() not in shop.access_token_encrypted
    assert shop.refresh_token_encrypted is not None
    assert oauth_state(domain)["calls"] == {"token_exchange": 1}
    # The ledger proves the install without holding any token.
    with get_sessionmaker()() as session:
        event = session.scalar(select(EvidenceEvent).where(EvidenceEvent.chain == domain,
                                                           EvidenceEvent.kind == "shop.installed"))
    assert event.data["via"] == "token_exchange" and event.data["expiring"] is True
    assert access not in str(event.data)
    # Subscriptions (the worker also runs this from the outbox; running it here must be a no-op or
    # create them, never duplicate them).
    sync_subscriptions(shop.id)
    subs = wait_for(lambda: len(oauth_state(domain)["subscriptions"]) >= 18 and oauth_state(domain)["subscriptions"],
                    message="subscriptions")
    topics = sorted(row["topic"] for row in subs)
    assert len(topics) == len(set(topics)) and "APP_UNINSTALLED" in topics and "ORDERS_PAID" in topics
    assert all(row["uri"] == f"{live_server}/webhooks/shopify" for row in subs)
    # A new order in the store reaches the app through the subscription and is processed.
    _order_processed(shop.id, domain)


def _start_oauth(client, domain: str) -> str:
    started = client.get("/auth/install", params={"shop": domain}, follow_redirects=False)
    assert started.status_code == 302, started.text
    location = started.headers["location"]
    assert location.startswith(f"{store_url()}/{domain}/admin/oauth/authorize?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["client_id"] == "test-api-key" and "read_orders" in query["scope"] and query["state"]
    approved = httpx.get(location, follow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    return approved.headers["location"]


def _callback_path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == "/auth/callback"
    return f"{parts.path}?{parts.query}"


def _order_processed(shop_id: int, domain: str) -> None:
    created = httpx.post(f"{store_url()}/_control/orders", json={
        "shop": domain, "order": {"line_items": [{"title": "Lamp", "sku": "L-1", "price": "20.00"}],
                                  "email": "buyer@example.com"}}, timeout=20)
    assert created.status_code == 201, created.text
    external_id = created.json()["order"]["id"]

    def processed():
        with get_sessionmaker()() as session:
            return session.scalar(select(Order).where(Order.shop_id == shop_id, Order.external_id == external_id,
                                                      Order.status == "paid"))

    wait_for(processed, timeout=30, message="the order from the new shop's webhook")


def test_oauth_install_and_replay(client, live_server, celery_worker):
    domain = new_domain("oauth")
    callback = _callback_path(_start_oauth(client, domain))
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["location"].endswith(f"/{domain}/admin/apps/test-api-key")
    shop = load_shop(domain)
    assert shop.is_installed and shop.installed_via == "authorization_code" and "read_orders" in shop.scopes
    assert oauth_state(domain)["calls"]["authorization_code"] == 1
    # The same callback again (replayed state) is refused and changes nothing.
    client.cookies.set("dropguard_oauth_state", done.request.headers.get("cookie", "").split("=", 1)[-1])
    replay = client.get(callback, follow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.json()["detail"]
    assert kinds(domain, "shop.installed") == ["shop.installed"]
    # The worker subscribes the new shop (from the install's outbox rows); its orders then arrive.
    wait_for(lambda: len(oauth_state(domain)["subscriptions"]) >= 18, message="subscriptions from the worker")
    _order_processed(shop.id, domain)


def _signed(params: dict[str, str]) -> str:
    return "/auth/callback?" + urlencode({**params, "hmac": query_hmac(params, SECRET)})


@pytest.mark.parametrize("case", ["bad_hmac", "missing_state", "wrong_state", "old_timestamp", "evil", "evil_suffix"])
def test_oauth_callback_bad_input_is_refused_and_nothing_stored(client, live_server, case):
    domain = new_domain("bad")
    callback = urlsplit(_start_oauth(client, domain))
    params = dict(parse_qsl(callback.query))
    params.pop("hmac")
    if case == "bad_hmac":
        path = "/auth/callback?" + urlencode({**params, "hmac": "0" * 64})
    elif case == "missing_state":
        params.pop("state")
        path = _signed(params)
    elif case == "wrong_state":
        path = _signed({**params, "state": "not-the-cookie-nonce"})
    elif case == "old_timestamp":
        path = _signed({**params, "timestamp": str(int(time.time()) - 3600)})
    else:
        evil = "evil.com" if case == "evil" else f"{domain}.evil.com"
        path = _signed({**params, "shop": evil})
        domain = evil
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]
    assert _shop_count(domain) == 0 and kinds(domain) == []
    assert oauth_state(domain).get("calls", {}).get("authorization_code") is None


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", ""])
def test_install_refuses_evil_domains(client, shop):
    answer = client.get("/auth/install", params={"shop": shop}, follow_redirects=False)
    assert answer.status_code == 400 and "set-cookie" not in answer.headers


def test_ten_workers_needing_a_refresh_make_one_refresh_call(client, live_server):
    domain = new_domain("refresh")
    install_by_token_exchange(client, domain)
    shop = load_shop(domain)
    old = secrets.decrypt(shop.access_token_encrypted)
    with get_sessionmaker()() as session:
        session.execute(update(Shop).where(Shop.id == shop.id).values(access_token_expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: tokens.access_token_for(shop.id), range(10)))
    assert len(set(results)) == 1 and results[0] != old
    assert oauth_state(domain)["calls"].get("refresh") == 1
    # Everyone uses the new token successfully; the revoked one is refused by the store.
    with AdminClient(shop_domain=domain, access_token=results[0], shop_id=shop.id) as admin:
        assert admin.query("{ shop { myshopifyDomain } }")["shop"]["myshopifyDomain"] == domain
    refused = httpx.post(f"{store_url()}/{domain}/admin/api/2026-07/graphql.json",
                         json={"query": "{ shop { id } }"}, headers={"X-Shopify-Access-Token": old}, timeout=10)
    assert refused.status_code == 401
    assert kinds(domain, "shop.token_refreshed") == ["shop.token_refreshed"]
    reloaded = load_shop(domain)
    assert reloaded.access_token_expires_at > utcnow() + timedelta(minutes=50)


def test_reconsent_when_configured_scopes_grow(client, live_server, monkeypatch):
    from app.config import get_settings

    domain = new_domain("scopes")
    install_by_token_exchange(client, domain)
    monkeypatch.setattr(get_settings(), "shopify_scopes", get_settings().shopify_scopes + ",read_returns")
    from app.sandbox.tokens import mint_session_token

    answer = client.get("/auth/embedded", params={"id_token": mint_session_token(domain), "shop": domain},
                        follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == f"/auth/install?shop={domain}"


def test_scopes_update_webhook_keeps_scopes_resyncs_and_asks_again(client, live_server, post_webhook):
    from app.outbox.models import OutboxMessage
    from app.sandbox.tokens import mint_session_token
    from app.webhooks.models import WebhookDelivery
    from app.webhooks.tasks import process_delivery
    from tests.shops.helpers import install_quietly

    shop = install_quietly(new_domain("scopes"))
    answer = post_webhook(shop.domain, "app/scopes_update",
                          {"id": 1, "previous": shop.scopes.split(","), "current": ["read_orders"]})
    assert answer.status_code == 200
    with get_sessionmaker()() as session:
        delivery_id = session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.shop_domain == shop.domain))
    process_delivery.run(delivery_id)
    wait_for(lambda: load_shop(shop.domain).scopes == "read_orders", message="scopes kept")
    assert kinds(shop.domain, "shop.scopes_updated") == ["shop.scopes_updated"]
    with get_sessionmaker()() as session:
        queued = session.scalars(select(OutboxMessage.args).where(
            OutboxMessage.task_name == "shops.sync_subscriptions")).all()
    assert [shop.id] in queued
    entry = client.get("/auth/embedded", params={"id_token": mint_session_token(shop.domain)}, follow_redirects=False)
    assert entry.status_code == 302 and entry.headers["location"] == f"/auth/install?shop={shop.domain}"
