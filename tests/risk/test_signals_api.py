"""What a payload says (forwarders, post boxes, IP country, e-mail shape), kept without personal data
from the real webhook path; the order API's `risk`, in the shop's language, for its own orders only."""

from __future__ import annotations

import json
import random
from ipaddress import ip_address

import pytest
from sqlalchemy import select

from app.risk import ipcountry
from app.risk.models import RiskScore, RiskSignal
from app.risk.signals import facts_from_payload
from app.suppliers import service as suppliers
from app.webhooks.models import WebhookDelivery
from app.webhooks.tasks import process_delivery
from tests.factories import order_payload
from tests.suppliers.helpers import hold_outbox


def _ip_in(country: str) -> str:
    start, end = random.Random(country).choice(ipcountry.ranges_of(country))
    return str(ip_address((start + end) // 2))


@pytest.mark.parametrize(("address1", "forwarder", "po_box"), [
    ("12 Analytical Row", False, False),
    ("Shipito, 1010 Forwarding Way", True, False),
    ("MyUS Suite 4411", True, False),
    ("c/o Freight Forwarding Hub 3", True, False),
    ("P.O. Box 1432", False, True),
    ("Boîte postale 17", False, True),
    ("Packstation 123", False, True),
    ("12 Apollo Road", False, False),
])
def test_forwarders_and_post_boxes_from_the_one_list(address1, forwarder, po_box):
    payload = order_payload()
    payload["shipping_address"]["address1"] = address1
    facts = facts_from_payload(payload)
    assert (facts["forwarder"], facts["po_box"]) == (forwarder, po_box)


def test_ip_country_email_shape_and_mismatches():
    payload = order_payload(email="ada.lovelace@example.com", country="US")
    payload["browser_ip"] = _ip_in("US")
    payload["billing_address"] = dict(payload["shipping_address"])
    calm = facts_from_payload(payload)
    assert calm["ip_country"] == "US" and not calm["ip_mismatch"] and not calm["country_mismatch"]
    assert calm["email_digits"] == 0 and not calm["email_disposable"] and not calm["email_name_mismatch"]

    payload = order_payload(email="qz88120934@mailinator.com", country="US")
    payload["customer"]["email"] = payload["email"]
    payload["client_details"] = {"browser_ip": _ip_in("GB")}
    payload["billing_address"] = {"first_name": "Max", "last_name": "Mustermann", "country_code": "DE"}
    odd = facts_from_payload(payload)
    assert odd["ip_country"] == "GB" and odd["ip_mismatch"]
    assert odd["billing_country"] == "DE" and odd["country_mismatch"] and odd["name_mismatch"]
    assert odd["email_digits"] == 8 and odd["email_disposable"] and odd["email_name_mismatch"]
    # Documentation, private and malformed addresses have no country.
    for ip in ("192.0.2.10", "10.1.2.3", "not-an-ip", None):
        assert ipcountry.country_of(ip) is None


def test_signals_arrive_through_the_webhook_and_keep_nothing_personal(db, shop, post_webhook):
    payload = order_payload(financial_status="pending", email="grace.hopper@example.com")
    payload["browser_ip"] = _ip_in("FR")
    response = post_webhook(shop.domain, "orders/create", payload)
    assert response.status_code == 200, response.text
    delivery_id = db.scalar(select(WebhookDelivery.id).where(WebhookDelivery.shop_domain == shop.domain))
    assert process_delivery(delivery_id) == "processed"
    signal = db.scalar(select(RiskSignal).where(RiskSignal.shop_id == shop.id))
    assert signal.placed_at.isoformat() == payload["created_at"]
    assert signal.destination == "US" and signal.quantity == 1
    assert signal.facts["ip_country"] == "FR" and signal.facts["ip_mismatch"]
    stored = json.dumps(signal.facts)
    for personal in ("grace", "hopper", "Analytical", payload["browser_ip"], "62704"):
        assert personal.lower() not in stored.lower()


def _paid(db, shop, **kwargs):
    from app.orders.service import apply_snapshot

    payload = order_payload(**kwargs)
    payload["shipping_address"]["address1"] = "Shipito, 1010 Forwarding Way"
    order, _ = apply_snapshot(db, shop, "orders/paid", payload)
    suppliers.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    return order


def test_the_order_api_gives_the_risk_in_the_shops_language(db, make_shop, client, auth_headers):
    french = make_shop(locale="fr")
    other = make_shop()
    order = _paid(db, french, number=31337)
    theirs = _paid(db, other, number=31338)
    unpaid_payload = order_payload(financial_status="pending", number=31339)
    from app.orders.service import apply_snapshot

    apply_snapshot(db, french, "orders/create", unpaid_payload)
    db.commit()

    answer = client.get("/api/orders", params={"name": "#31337"}, headers=auth_headers(french.domain))
    assert answer.status_code == 200, answer.text
    risk = answer.json()["risk"]
    assert 0 <= risk["probability"] <= 1 and risk["level"] in ("low", "medium", "high")
    assert risk["model"] == {"kind": "rules", "version": "rules-1", "trained_at": None}
    assert "L’adresse de livraison est celle d’un réexpéditeur de colis" in risk["reasons"]
    assert risk["actions"][0] == "Confirmer l’adresse de livraison avec le client avant l’envoi"
    stored = db.get(RiskScore, order.id)
    assert risk["probability"] == stored.probability and stored.trigger == "paid"
    assert "risk.scored" in [e["kind"] for e in answer.json()["timeline"]]

    # Not scored yet (never paid): no risk, said as such; another shop's order is not found.
    unpaid = client.get("/api/orders", params={"name": "#31339"}, headers=auth_headers(french.domain))
    assert unpaid.status_code == 200 and unpaid.json()["risk"] is None
    assert client.get("/api/orders", params={"name": theirs.name},
                      headers=auth_headers(french.domain)).status_code == 404
