"""The SMTP catcher, session tokens and the emulated admin, and `simulate` driving our ingest."""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import sys
import uuid
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from app.config import get_settings
from app.embedded import free_port
from app.sandbox import simulate
from app.sandbox.mail import start_smtp_catcher
from app.sandbox.tokens import mint_session_token
from app.shops.service import get_by_domain
from app.webhooks.models import WebhookDelivery


def _message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Dropguard <orders@dropguard.local>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@dropguard.local>"
    message.set_content("Your order has shipped.\nTrack it: https://example.com/t/1")
    message.add_alternative("<p>Your order has <b>shipped</b>.</p>", subtype="html")
    return message


def test_smtp_catcher_stores_and_lists_messages(live_server):
    to = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    message = _message(to, "Votre commande est en route ✈")
    with smtplib.SMTP(get_settings().smtp_host, get_settings().smtp_port, timeout=10) as smtp:
        smtp.send_message(message)
    listed = httpx.get(f"{live_server}/sandbox/mail", params={"to": to.upper()}, timeout=10).json()["messages"]
    assert len(listed) == 1
    (stored,) = listed
    assert stored["to"] == [to] and stored["subject"] == "Votre commande est en route ✈"
    assert stored["message_id"] == message["Message-ID"]
    assert stored["from"] == "Dropguard <orders@dropguard.local>"
    assert stored["text"].startswith("Your order has shipped.") and "<b>shipped</b>" in stored["html"]
    assert stored["headers"]["Subject"] == stored["subject"] and stored["received_at"]
    everything = httpx.get(f"{live_server}/sandbox/mail", timeout=10).json()["messages"]
    assert everything[-1]["message_id"] == message["Message-ID"]  # newest last


def test_catcher_returns_none_when_another_process_has_the_port(live_server):
    assert start_smtp_catcher() is None  # the live server hosts it


def test_catcher_on_a_free_port(live_server):
    port = free_port()
    catcher = start_smtp_catcher(port=port)
    assert catcher is not None
    try:
        to = f"grace-{uuid.uuid4().hex[:8]}@example.com"
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(_message(to, "Hello"))
        assert [m["subject"] for m in httpx.get(f"{live_server}/sandbox/mail", params={"to": to}).json()["messages"]] == ["Hello"]
    finally:
        catcher.stop()


def test_session_token_and_emulated_admin(live_server):
    domain = f"tok-{uuid.uuid4().hex[:8]}.myshopify.com"
    claims = jwt.decode(mint_session_token(domain), "test-api-secret", algorithms=["HS256"], audience="test-api-key")
    assert claims["iss"] == f"https://{domain}/admin" and claims["dest"] == f"https://{domain}"
    assert claims["exp"] - claims["iat"] == 60 and claims["jti"] and claims["sid"] and claims["sub"]
    short = jwt.decode(mint_session_token(domain, ttl=5), "test-api-secret", algorithms=["HS256"], audience="test-api-key")
    assert short["exp"] - short["iat"] == 5

    response = httpx.get(f"{live_server}/sandbox/shopify/{domain}/admin", follow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == live_server and location.path == "/admin"
    query = parse_qs(location.query)
    assert query["shop"] == [domain]
    token = jwt.decode(query["id_token"][0], "test-api-secret", algorithms=["HS256"], audience="test-api-key")
    assert token["dest"] == f"https://{domain}"
    assert httpx.get(f"{live_server}/sandbox/shopify/not-a-shop/admin", follow_redirects=False).status_code == 400


def test_simulate_drives_orders_into_our_ingest(live_server, db):
    domain = f"sim-{uuid.uuid4().hex[:8]}.myshopify.com"
    summary = simulate.simulate_orders(orders=6, rate=30, shop_domain=domain, seed=11)
    assert re.fullmatch(r"simulated 6 orders in \d+\.\d s \(\d+\.\d/s\)", summary), summary
    assert get_by_domain(db, domain).is_installed
    rows = db.query(WebhookDelivery).filter_by(shop_domain=domain).all()
    creates = [row for row in rows if row.topic == "orders/create"]
    assert len(creates) == 6 and all(row.status == "queued" for row in rows)
    assert 1 <= sum(row.topic == "orders/paid" for row in rows) <= 6
    payloads = [row.payload for row in creates]
    assert len({p["id"] for p in payloads}) == 6
    for payload in payloads:
        address = payload["shipping_address"]
        assert 1 <= len(payload["line_items"]) <= 4 and payload["email"].endswith(("example.com", "example.org", "example.net"))
        assert payload["customer_locale"] in ("en", "fr", "es", "de") and payload["currency"] in (
            "USD", "GBP", "EUR", "CAD", "AUD")
        assert address["country_code"] and address["city"] and address["zip"] and address["country"]
    # A second run reuses the shop and its token.
    assert simulate.simulate_orders(orders=1, rate=5, shop_domain=domain, seed=None).startswith("simulated 1 orders")


def test_simulate_names_an_unreachable_web_app(monkeypatch):
    settings = get_settings().model_copy(update={"public_url": f"http://127.0.0.1:{free_port()}"})
    monkeypatch.setattr(simulate, "get_settings", lambda: settings)
    with pytest.raises(simulate.SimulationError, match="not reachable"):
        simulate.simulate_orders(orders=1, rate=1, shop_domain="demo-x.myshopify.com", seed=1)


def test_cli_simulate_prints_the_summary(live_server):
    domain = f"cli-{uuid.uuid4().hex[:8]}.myshopify.com"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "simulate", "--orders", "2", "--rate", "20", "--shop", domain],
        capture_output=True, text=True, env=os.environ.copy(), timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("simulated 2 orders in ")
