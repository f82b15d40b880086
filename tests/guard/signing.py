"""Signed requests for every signed route, as their senders make them: hostile tests and the
fuzzers sign whatever body they send, so that it reaches the parse behind the signature."""

from __future__ import annotations

import time
import uuid

from app.config import get_settings
from app.insights import inbound
from app.suppliers.protocols.cj_webhooks import SIGN_HEADER, webhook_signature
from app.suppliers.signing import signed_headers as supplier_headers
from app.tracking.aggregators import aftership, seventeentrack
from tests.factories import signed_headers as shopify_headers

JSON = {"Content-Type": "application/json"}


def shopify(body: bytes, shop_domain: str = "guard-test.myshopify.com") -> dict[str, str]:
    return {**shopify_headers(body, shop_domain=shop_domain, topic="orders/create"), **JSON}


def generic_supplier(body: bytes) -> dict[str, str]:
    return {**supplier_headers(body, secret=get_settings().supplier_api_secret), **JSON}


def alert_provider(body: bytes) -> dict[str, str]:
    # The alert provider signs as the generic supplier protocol does, with its own secret.
    return {**supplier_headers(body, secret=get_settings().alert_provider_secret), **JSON}


def cj(body: bytes) -> dict[str, str]:
    return {SIGN_HEADER: webhook_signature(body, str(get_settings().cj_open_id)), **JSON}


def seventeen(body: bytes) -> dict[str, str]:
    return {seventeentrack.SIGN_HEADER: seventeentrack.sign(body, get_settings().seventeentrack_webhook_key), **JSON}


def after_ship(body: bytes) -> dict[str, str]:
    return {aftership.HMAC_HEADER: aftership.sign(body, get_settings().aftership_webhook_secret), **JSON}


# path -> how a body sent there is signed
SIGNED_JSON_ROUTES = {
    "/webhooks/shopify": shopify,
    "/webhooks/suppliers/generic": generic_supplier,
    "/webhooks/suppliers/cj": cj,
    "/webhooks/carriers/17track": seventeen,
    "/webhooks/carriers/aftership": after_ship,
    "/webhooks/alerts": alert_provider,
}


def mailgun_fields(**fields: str) -> dict[str, str]:
    stamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = inbound.sign(stamp, token, get_settings().mailgun_signing_key)
    return {"timestamp": stamp, "token": token, "signature": signature, **fields}
