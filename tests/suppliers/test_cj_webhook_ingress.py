"""POST /webhooks/suppliers/cj: bad signatures store nothing, malformed bodies are refused,
unknown orders are recorded and acknowledged but not applied; the CJ token store is encrypted."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.redis import get_redis
from app.suppliers.adapters.tokens import RedisTokenStore
from app.suppliers.protocols import TokenGrant
from app.suppliers.protocols.cj_webhooks import webhook_signature
from app.webhooks.models import WebhookDelivery

OPEN_ID = "1234567890123"  # the configured (sandbox) account


def _order_message(number: str) -> bytes:
    envelope = {"messageId": uuid.uuid4().hex, "type": "ORDER", "messageType": "UPDATE", "openId": int(OPEN_ID),
                "params": {"cjOrderId": "2600000000999999", "orderNumber": number, "orderStatus": "UNSHIPPED"}}
    return json.dumps(envelope, separators=(",", ":")).encode()


def _post(client, body: bytes, sign: str | None):
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["sign"] = sign
    return client.post("/webhooks/suppliers/cj", content=body, headers=headers)


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.source == "supplier:cj"))


def test_bad_or_missing_signature_is_401_and_stores_nothing(client, db):
    before = _count(db)
    body = _order_message("dg-unknown-1")
    assert _post(client, body, None).status_code == 401
    assert _post(client, body, webhook_signature(body, "999")).status_code == 401  # another account's key
    forged = body.replace(OPEN_ID.encode(), b"555")  # an account we do not hold is never a key
    assert _post(client, forged, webhook_signature(forged, "555")).status_code == 401
    assert _count(db) == before


def test_malformed_body_is_400(client, db):
    before = _count(db)
    body = json.dumps({"messageId": "m1", "type": "ORDER", "openId": int(OPEN_ID)}).encode()  # no params
    response = _post(client, body, webhook_signature(body, OPEN_ID))
    assert response.status_code == 400 and response.json()["error"] == "bad_payload"
    text = b"not json"  # names no account: authentic for one we hold, then refused as unreadable
    assert _post(client, text, webhook_signature(text, OPEN_ID)).json()["error"] == "bad_json"
    assert _post(client, text, webhook_signature(text, "999")).status_code == 401
    assert _count(db) == before


def test_unknown_order_is_recorded_acknowledged_not_applied(client, db):
    body = _order_message(f"dg-0-0-{uuid.uuid4().hex[:6]}")
    response = _post(client, body, webhook_signature(body, OPEN_ID))
    assert response.status_code == 200 and response.json()["status"] == "unknown_order"
    delivery = db.get(WebhookDelivery, response.json()["delivery_id"])
    assert (delivery.status, delivery.topic) == ("unknown_order", "cj.ORDER")
    again = _post(client, body, webhook_signature(body, OPEN_ID))
    assert again.json()["status"] == "duplicate"


def test_token_store_shares_one_encrypted_token():
    api_key = "CJ-TEST-" + uuid.uuid4().hex
    until = datetime.now(UTC) + timedelta(days=15)
    RedisTokenStore("cj", api_key).save(TokenGrant("secret-access", "secret-refresh", until, None, "42"))
    loaded = RedisTokenStore("cj", api_key).load()  # another worker's store reads the same token
    assert (loaded.access_token, loaded.refresh_token, loaded.access_expires_at) == ("secret-access", "secret-refresh", until)
    raw = [get_redis().get(k) for k in get_redis().scan_iter(match="*suppliers:cj:token:*")]
    assert raw and all(b"secret-access" not in value for value in raw)
