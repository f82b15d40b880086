"""Refresh-token rotation at the sandbox store (a lost refresh answer can be repeated), bad
session tokens at /auth/session, key rotation, and `dropguard shops import` end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from app.config import get_settings
from app.db import get_sessionmaker
from app.orders.models import Order
from app.shops import secrets, tokens
from app.shops.service import rotate_keys
from tests.factories import session_token
from tests.shops.helpers import install_quietly, load_shop, new_domain, oauth_state, store_url

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_lost_refresh_answer_can_be_repeated_until_the_new_token_is_used(live_server):
    shop = install_quietly(new_domain("rot"))
    old_refresh = secrets.decrypt(shop.refresh_token_encrypted)
    refresh = {"grant_type": "refresh_token", "refresh_token": old_refresh}
    lost = tokens.request_token(shop.domain, refresh)  # pretend this answer never arrived
    again = tokens.request_token(shop.domain, refresh)
    assert again.access_token != lost.access_token and again.refresh_token
    graphql = f"{store_url()}/{shop.domain}/admin/api/2026-07/graphql.json"
    used = httpx.post(graphql, json={"query": "{ shop { id } }"},
                      headers={"X-Shopify-Access-Token": again.access_token}, timeout=10)
    assert used.status_code == 200
    with pytest.raises(tokens.TokenRefused):
        tokens.request_token(shop.domain, refresh)  # the replacement is in use: the old one is gone
    assert oauth_state(shop.domain)["calls"]["refresh"] == 2


@pytest.mark.parametrize("claims", [{"aud": "another-app"}, {"exp": 1}, {"secret": "wrong-secret"}])
def test_token_exchange_refuses_bad_session_tokens(client, claims):
    domain = new_domain("badjwt")
    answer = client.post("/auth/session", headers={"Authorization": f"Bearer {session_token(domain, **claims)}"})
    assert answer.status_code == 401
    assert load_shop(domain) is None


def test_rotate_keys_re_encrypts_with_the_newest_key(monkeypatch, live_server):
    shop = install_quietly(new_domain("keys"))
    token = secrets.decrypt(shop.access_token_encrypted)
    settings = get_settings()
    default, new_key = secrets.derived_key(), Fernet.generate_key().decode()
    monkeypatch.setattr(settings, "encryption_keys", f"{new_key},{default}")
    with get_sessionmaker()() as session:
        assert rotate_keys(session) >= 1
        session.commit()
    monkeypatch.setattr(settings, "encryption_keys", new_key)  # the old key can now be dropped
    assert secrets.decrypt(load_shop(shop.domain).access_token_encrypted) == token
    assert secrets.decrypt(load_shop(shop.domain).refresh_token_encrypted)
    # Back to the default key for the rest of the run, the same way.
    monkeypatch.setattr(settings, "encryption_keys", f"{default},{new_key}")
    with get_sessionmaker()() as session:
        rotate_keys(session)
        session.commit()


def test_cli_import_shows_progress_and_imports(client, live_server):
    domain = new_domain("cli")
    httpx.post(f"{store_url()}/_control/shops", json={
        "domain": domain, "access_token": "shpat_seed", "webhook_url": "http://127.0.0.1:9/nowhere"}, timeout=10)
    for n in range(3):
        httpx.post(f"{store_url()}/_control/orders", json={"shop": domain, "order": {
            "line_items": [{"title": f"Item {n}", "price": "5.00"}]}}, timeout=20)
    install_quietly(domain)
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "app.cli", "shops", "import", domain, "--since", "30d"],  # noqa: S603
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{domain}: completed" in done.stdout and "3/3" in done.stdout
    with get_sessionmaker()() as session:
        shop_id = load_shop(domain).id
        assert session.scalar(select(func.count()).select_from(Order).where(Order.shop_id == shop_id)) == 3
    bad = subprocess.run([sys.executable, "-m", "app.cli", "shops", "import", domain, "--since", "1y"],  # noqa: S603
                         cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "365d" in bad.stderr
