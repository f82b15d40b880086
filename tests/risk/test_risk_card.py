"""Shopify's risk card: the emulator's orderRiskAssessmentCreate validates as Shopify does, and a
card is written once per score version (published cards are not written again, replaced versions
are skipped)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.config import get_settings
from app.evidence.models import EvidenceEvent
from app.orders.service import apply_snapshot
from app.risk import cards, service
from app.risk.models import RiskCard, RiskScore
from app.shops.service import add_shop
from tests.sandbox.receiver import Receiver
from tests.sandbox.test_store_emulator import Store
from tests.suppliers.helpers import hold_outbox

CREATE = """mutation($input: OrderRiskAssessmentCreateInput!) {
  orderRiskAssessmentCreate(orderRiskAssessmentInput: $input) {
    orderRiskAssessment { riskLevel facts { description sentiment } provider { title } }
    userErrors { field message code } } }"""
READ = "query($id: ID!) { order(id: $id) { risk { recommendation assessments { riskLevel facts { description } } } } }"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _create(store: Store, order_gid: str, facts: list[dict], level: str = "HIGH") -> dict:
    response = store.graphql(CREATE, {"input": {"orderId": order_gid, "riskLevel": level, "facts": facts}})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_emulator_validates_risk_assessments_as_shopify_does(live_server, receiver):
    store = Store(live_server, webhook_url=receiver.url)
    other = Store(live_server, webhook_url=receiver.url)
    order = store.order()["order"]
    gid = order["admin_graphql_api_id"]
    fact = {"description": "x" * 300, "sentiment": "NEGATIVE"}

    created = _create(store, gid, [fact, {"description": "Returning customer", "sentiment": "POSITIVE"}])
    payload = created["data"]["orderRiskAssessmentCreate"]
    assert payload["userErrors"] == []
    assert payload["orderRiskAssessment"]["provider"] == {"title": "Dropguard"}
    assert len(payload["orderRiskAssessment"]["facts"][0]["description"]) == 256  # truncated, as Shopify does

    too_many = _create(store, gid, [{"description": f"fact {i}", "sentiment": "NEUTRAL"} for i in range(21)])
    assert [e["code"] for e in too_many["data"]["orderRiskAssessmentCreate"]["userErrors"]] == ["TOO_MANY_FACTS"]
    blank = _create(store, gid, [{"description": "  ", "sentiment": "NEUTRAL"}])
    assert [e["code"] for e in blank["data"]["orderRiskAssessmentCreate"]["userErrors"]] == ["INVALID"]
    foreign = _create(other, gid, [{"description": "a", "sentiment": "NEUTRAL"}])
    assert [e["code"] for e in foreign["data"]["orderRiskAssessmentCreate"]["userErrors"]] == ["NOT_FOUND"]
    bad_level = _create(store, gid, [{"description": "a", "sentiment": "NEUTRAL"}], level="SEVERE")
    assert bad_level["errors"] and "RiskAssessmentResult" in bad_level["errors"][0]["message"]
    bad_id = _create(store, "gid://shopify/Product/1", [{"description": "a", "sentiment": "NEUTRAL"}])
    assert "Invalid global id" in bad_id["errors"][0]["message"]

    read = store.graphql(READ, {"id": gid}).json()["data"]["order"]["risk"]
    assert read["recommendation"] == "CANCEL" and [a["riskLevel"] for a in read["assessments"]] == ["HIGH"]
    (fulfillment_order,) = store.graphql(
        "query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id } } } }", {"id": gid}
    ).json()["data"]["order"]["fulfillmentOrders"]["nodes"]
    store.fulfil(fulfillment_order["id"])
    fulfilled = _create(store, gid, [{"description": "a", "sentiment": "NEUTRAL"}])
    assert [e["code"] for e in fulfilled["data"]["orderRiskAssessmentCreate"]["userErrors"]] == [
        "ORDER_ALREADY_FULFILLED"]


def test_one_card_per_score_version_and_replaced_versions_are_skipped(db, live_server, receiver):
    store = Store(live_server, webhook_url=receiver.url)
    shop = add_shop(db, domain=store.domain, access_token=store.token)
    shop.scopes = get_settings().shopify_scopes
    db.commit()
    emulated = store.order(email="zq88120934@mailinator.com")["order"]
    emulated["shipping_address"]["address1"] = "Shipito, 1010 Forwarding Way"
    order, _ = apply_snapshot(db, shop, "orders/paid", emulated)
    first = service.score_order(db, order, trigger="paid")
    hold_outbox(db)
    db.commit()

    assert cards.publish(order.id, first.digest) == "published"
    assert cards.publish(order.id, first.digest) == "published"  # again: nothing written twice
    read = store.graphql(READ, {"id": emulated["admin_graphql_api_id"]}).json()["data"]["order"]["risk"]
    assert len(read["assessments"]) == 1
    head = read["assessments"][0]["facts"][0]["description"]
    assert head.startswith("Dropguard: ") and cards.marker(first.digest) in head
    calls = db.scalar(select(func.count()).select_from(EvidenceEvent).where(
        EvidenceEvent.order_id == order.id, EvidenceEvent.kind == "store.mutation_attempted"))
    assert calls == 1

    # A newer score replaces the version before its card went out: the old version is skipped.
    db.execute(RiskScore.__table__.update().where(RiskScore.order_id == order.id).values(digest="f" * 64))
    db.commit()
    assert cards.publish(order.id, "e" * 64) == "superseded"
    assert db.scalar(select(func.count()).select_from(RiskCard).where(RiskCard.order_id == order.id)) == 1
