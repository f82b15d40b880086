"""The customer's side of the spine, through the sandboxes and real processes.

Sandbox store order (paid, French customer) -> our order -> supplier placed, confirmed, shipped ->
an order-confirmation and a shipping email at the sandbox mail catcher, in French, each once ->
the status link in the email shows the whole journey; the merchant sees the same order's ledger.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.orders.models import Order
from app.status.service import VIEWED
from tests.factories import session_token
from tests.fixtures import wait_for
from tests.notifications.helpers import kinds
from tests.suppliers.e2e import behave, reset_supplier, store_shop

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(live_server, celery_worker):
    reset_supplier()
    behave(confirm_after_s=0.2, ship_after_s=0.2)
    yield live_server
    reset_supplier()


def _store_order(email: str) -> dict:
    return {
        "line_items": [{"title": "Lampe de chevet", "sku": "LAMP-1", "quantity": 1, "price": "34.90"}],
        "customer": {"email": email, "first_name": "Camille", "last_name": "Durand"},
        "shipping_address": {"first_name": "Camille", "last_name": "Durand", "address1": "8 rue des Lilas",
                             "city": "Lyon", "zip": "69003", "country_code": "FR"},
        "currency": "EUR",
        "customer_locale": "fr",
    }


def _mail(live: str, to: str) -> list[dict]:
    return httpx.get(f"{live}/sandbox/mail", params={"to": to}, timeout=5).json()["messages"]


def test_customer_hears_twice_and_the_link_tells_the_whole_story(db, sandbox):
    shop = store_shop(db)
    email = f"camille-{uuid.uuid4().hex[:8]}@example.fr"
    created = httpx.post(f"{sandbox}/sandbox/shopify/_control/orders",
                         json={"shop": shop.domain, "order": _store_order(email), "paid": True}, timeout=30)
    assert created.status_code == 201, created.text

    def confirmed_and_shipped():
        mail = _mail(sandbox, email)
        subjects = " | ".join(m["subject"] for m in mail)
        return mail if "confirmée" in subjects and "en route" in subjects else None

    messages = wait_for(confirmed_and_shipped, timeout=60, message="the confirmation and shipping emails")
    with get_sessionmaker()() as session:
        order = session.scalar(select(Order).where(Order.shop_id == shop.id))
    # The supplier confirms a second before it ships here, so the "being prepared" message may or
    # may not have been due yet; when it is sent, it is sent once. Nothing else is sent.
    by_kind = {}
    for message in messages:
        kind = "shipped" if "en route" in message["subject"] else (
            "processing" if "en préparation" in message["subject"] else "confirmed")
        by_kind.setdefault(kind, []).append(message)
    assert {k: len(v) for k, v in by_kind.items() if k != "processing"} == {"confirmed": 1, "shipped": 1}
    assert len(by_kind.get("processing", [])) <= 1
    (confirmed,), (shipped,) = by_kind["confirmed"], by_kind["shipped"]
    assert confirmed["subject"].startswith(f"Commande {order.name} confirmée")
    assert shipped["subject"] == f"Votre commande {order.name} est en route"
    tracking = re.search(r"Numéro de suivi : (\S+)", shipped["text"]).group(1)
    assert tracking in shipped["html"]

    link = re.search(r"(http://\S+/status/[A-Za-z0-9_-]{44})", shipped["text"]).group(1)
    assert link in confirmed["text"]
    page = httpx.get(link, headers={"User-Agent": "e2e-phone"}, timeout=10)
    assert page.status_code == 200
    for phrase in ("Commande reçue", "Paiement confirmé", "Transmise à notre entrepôt",
                   "En préparation dans notre entrepôt", "Expédiée avec", f"Numéro de suivi {tracking}",
                   "Confirmation de commande envoyée par e-mail", "Confirmation d’expédition envoyée par e-mail",
                   "Lyon, France"):
        assert phrase in page.text, phrase
    assert "fournisseur" not in page.text  # the customer never reads "supplier"
    # The heading follows the parcel (just handed over, or already scanned by the carrier).
    assert re.search(r'data-status="(shipped|in_transit)"', page.text)
    assert "8 rue des Lilas" not in page.text and "69003" not in page.text and email not in page.text
    assert kinds(order.id, VIEWED) == [VIEWED]
    assert len(_mail(sandbox, email)) == len(messages)

    # The merchant's proof view of the order lists every one of those events by its ledger kind.
    admin = httpx.get(f"{sandbox}/admin/orders/{order.id}/proof", params={"id_token": session_token(shop.domain)},
                      timeout=10)
    assert admin.status_code == 200
    for kind in ("supplier_order.placed", "supplier_order.shipped", "notification.sent", VIEWED):
        assert f'<span class="mono muted">{kind}</span>' in admin.text, kind
