"""Installing shops into the app through the sandbox store, for the shop and history tests."""

from __future__ import annotations

import os
import uuid

import httpx
from sqlalchemy import select

from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.sandbox.tokens import mint_session_token
from app.shops import install, tokens
from app.shops.models import Shop


def store_url() -> str:
    return os.environ["DROPGUARD_PUBLIC_URL"].rstrip("/") + "/sandbox/shopify"


def new_domain(prefix: str = "inst") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}.myshopify.com"


def install_by_token_exchange(client, domain: str) -> dict:
    response = client.post("/auth/session", headers={"Authorization": f"Bearer {mint_session_token(domain)}"})
    assert response.status_code == 200, response.text
    return response.json()


def install_quietly(domain: str) -> Shop:
    """Token exchange and install without the follow-up tasks (subscriptions, history import), so
    a worker left running by another test cannot act on this shop meanwhile."""
    grant = tokens.exchange_session_token(domain, mint_session_token(domain))
    with get_sessionmaker()() as session:
        install.record_install(session, domain=domain, grant=grant, via="token_exchange", follow_up=False)
        session.commit()
    return load_shop(domain)


def oauth_state(domain: str) -> dict:
    return httpx.get(f"{store_url()}/_control/shops/{domain}/oauth", timeout=10).json()


def load_shop(domain: str) -> Shop | None:
    with get_sessionmaker()() as session:
        return session.scalar(select(Shop).where(Shop.domain == domain))


def kinds(domain: str, prefix: str = "") -> list[str]:
    with get_sessionmaker()() as session:
        return list(session.scalars(
            select(EvidenceEvent.kind).where(EvidenceEvent.chain == domain, EvidenceEvent.kind.startswith(prefix))
            .order_by(EvidenceEvent.seq)
        ))
