"""app/uninstalled, shop/redact and the compliance topics' signatures."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text

from app.evidence.service import chains, verify_chain
from app.privacy.tasks import erase_shop
from app.shops.models import Shop
from tests.factories import signed_headers
from tests.privacy.helpers import (
    data_request_payload,
    deliver,
    ledger_verify,
    new_person,
    photo_files,
    redact_payload,
    shop_rows,
    spread,
    strings_present,
)
from tests.webhooks.helpers import deliveries, evidence, record_held

COMPLIANCE = ["customers/data_request", "customers/redact", "shop/redact"]


def _erase_work(db, shop_id: int) -> list:
    return db.execute(
        text("SELECT * FROM outbox WHERE task_name = 'privacy.erase_shop' AND (args->>0)::bigint = :id"),
        {"id": shop_id},
    ).all()


def _uninstall(shop) -> None:
    assert deliver(
        shop, "app/uninstalled", {"id": 1, "domain": shop.domain, "myshopify_domain": shop.domain}
    )[1] == ("processed")


def test_uninstall_deletes_tokens_stops_work_and_keeps_data_until_shop_redact(db, shop):
    person = new_person()
    order = spread(db, shop, person)
    _uninstall(shop)

    db.expire_all()
    stored = db.get(Shop, shop.id)
    assert (stored.status, stored.access_token_encrypted) == ("uninstalled", None)
    assert stored.uninstalled_at is not None
    assert strings_present([person.email]), "data is kept until shop/redact"
    # Store events for an uninstalled shop are no longer acted on...
    late = record_held(
        shop.domain, "orders/updated", {"id": order.external_id, "updated_at": "2030-01-01T00:00:00Z"}
    )
    assert {d.id: d.status for d in deliveries(db, shop.domain)}[late] == "unknown_shop"
    # ...but its privacy duties are.
    _, outcome = deliver(shop, "customers/redact", redact_payload(shop, person))
    assert outcome == "processed"
    assert strings_present(person.strings) == []


def test_shop_redact_for_an_installed_shop_erases_nothing(db, shop):
    spread(db, shop, new_person())
    assert deliver(shop, "shop/redact", {"shop_id": 1, "shop_domain": shop.domain})[1] == "processed"
    assert _erase_work(db, shop.id) == []
    [ignored] = evidence(db, shop.domain, "privacy.shop_redact_ignored")
    assert ignored.data == {"reason": "the shop is installed"}
    assert db.get(Shop, shop.id) is not None


def test_shop_redact_erases_every_row_of_the_shop_and_other_chains_still_verify(db, make_shop):
    shop, bystander = make_shop(), make_shop()
    shop_id, domain = shop.id, shop.domain
    person = new_person()
    spread(db, shop, person)
    spread(db, bystander, new_person())
    deliver(shop, "customers/data_request", data_request_payload(shop, person))
    deliver(shop, "disputes/create", {"id": 9, "order_id": person.orders[0], "status": "needs_response"})
    _uninstall(shop)
    assert shop_rows(shop.id, shop.domain), "the shop's rows exist before erasure"
    assert photo_files(shop_id)

    assert deliver(shop, "shop/redact", {"shop_id": 1, "shop_domain": shop.domain})[1] == "processed"
    [work] = _erase_work(db, shop.id)

    assert erase_shop(work.args[0]) == "erased"
    assert shop_rows(shop_id, domain) == {}
    assert photo_files(shop_id) == [] and photo_files(bystander.id)
    assert strings_present(person.strings) == []
    db.expire_all()
    assert domain not in chains(db)
    assert verify_chain(db, bystander.domain).intact
    result = ledger_verify(bystander.domain)
    assert result.returncode == 0, result.stdout + result.stderr
    every = ledger_verify()
    assert domain not in every.stdout + every.stderr
    # Running the task again (a redelivered message) finds nothing and changes nothing.
    assert erase_shop(work.args[0]) == "gone"


def test_compliance_topics_for_a_shop_never_seen_stay_unknown(db):
    domain = f"never-{uuid.uuid4().hex[:8]}.myshopify.com"
    for topic in COMPLIANCE:
        record_held(domain, topic, {"shop_domain": domain, "customer": {"id": 1, "email": "x@example.org"}})
    assert {d.status for d in deliveries(db, domain)} == {"unknown_shop"}


@pytest.mark.parametrize("topic", COMPLIANCE)
@pytest.mark.parametrize("signature", ["wrong_secret", "missing", "tampered"])
def test_bad_signature_on_a_compliance_topic_is_401_and_stores_nothing(client, db, shop, topic, signature):
    payload = {"shop_id": 1, "shop_domain": shop.domain, "customer": {"id": 1, "email": "x@example.org"}}
    body = json.dumps(payload).encode()
    headers = signed_headers(
        body,
        shop_domain=shop.domain,
        topic=topic,
        secret="not-the-secret" if signature == "wrong_secret" else "test-api-secret",
    )
    if signature == "missing":
        del headers["X-Shopify-Hmac-Sha256"]
    if signature == "tampered":
        body = body.replace(b"x@example.org", b"y@example.org")
    before = len(deliveries(db, shop.domain))

    response = client.post("/webhooks/shopify", content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert len(deliveries(db, shop.domain)) == before
    assert db.scalar(select(Shop).where(Shop.id == shop.id)) is not None
