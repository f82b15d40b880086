"""Home (/admin): the "needs you today" counts from each domain's own state, and the setup guide
ticking itself as the shop's real state changes (never from a click on "done")."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from app.db import utcnow
from app.resolutions.models import Resolution
from app.resolutions.policy import REASONS
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tables import OrderFlag, VariantMapping
from app.tracking.models import ShipmentAlert
from tests.factories import session_token
from tests.notifications.helpers import add_shipment, paid_order

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _home(client, shop, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/admin?id_token={session_token(shop.domain)}&shop={shop.domain}&{query}")
    assert response.status_code == 200, response.text
    return response.text


def _steps(html: str) -> dict[str, bool]:
    return {key: done == "yes" for key, done in re.findall(r'data-step="([a-z]+)" data-done="(yes|no)"', html)}


def _attention(html: str) -> dict[str, int]:
    return {key: int(count) for key, count in re.findall(r'data-attention="([a-z_]+)" data-count="(\d+)"', html)}


def _supplier(db, shop, name="Alpha") -> Supplier:
    supplier = Supplier(shop_id=shop.id, name=name, protocol="generic", settings={})
    db.add(supplier)
    db.commit()
    return supplier


def _policy_form(token: str) -> dict:
    form = {"id_token": token, "max_auto_refund": "40.00", "partial_refund_percent": "25", "not_received_after_days": "20"}
    for reason in REASONS:
        form[f"window_{reason}"] = "45"
        form[f"remedy_{reason}_reship"] = "on"
    return form


def test_a_new_shop_has_every_step_to_do_and_nothing_waiting(client, shop):
    html = _home(client, shop)
    assert _steps(html) == dict.fromkeys(("supplier", "mapping", "policy", "messages", "automation"), False)
    assert _attention(html) == {}
    assert "Nothing needs you right now" in html and "0 of 5 steps done" in html
    # Each step to do links to the page where it is done, signed in.
    assert re.search(r'href="/admin/suppliers\?id_token=[^"]+">Add a supplier</a>', html)


def test_the_setup_guide_ticks_itself_from_the_shops_state(client, db, make_shop):
    shop, other = make_shop(), make_shop()
    token = session_token(shop.domain)

    supplier = _supplier(db, shop)
    steps = _steps(_home(client, shop))
    # A supplier and the default policy (order automatically): automation runs.
    assert steps["supplier"] and steps["automation"] and not steps["mapping"]

    db.add(VariantMapping(shop_id=shop.id, supplier_id=supplier.id, match_key="sku:TEE-1", sku="TEE-1",
                          supplier_sku="ALPHA-TEE-1"))
    db.commit()
    assert _steps(_home(client, shop))["mapping"]
    # An order waiting because a product is not mapped: mapping is not done after all.
    order = paid_order(db, shop, number=880001)
    db.add(OrderFlag(shop_id=shop.id, order_id=order.id, kind="unmapped", reason="no mapping", data={}))
    db.commit()
    assert not _steps(_home(client, shop))["mapping"]

    saved = client.post("/admin/resolutions/policy", data=_policy_form(token), follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert _steps(_home(client, shop))["policy"]

    assert client.get(f"/admin/notifications?id_token={token}").status_code == 200
    assert _steps(_home(client, shop))["messages"]

    # Turning automatic ordering off in Settings un-ticks automation.
    form = {"id_token": token, "languages": ["en"], "quiet_start_hour": "21", "quiet_end_hour": "8",
            "sla_confirm_hours": "24", "sla_ship_days": "5", "sla_tracking_days": "7", "risk_score": "70"}
    assert client.post("/admin/settings", data=form, follow_redirects=False).status_code == 303
    html = _home(client, shop)
    assert _steps(html) == {"supplier": True, "mapping": False, "policy": True, "messages": True, "automation": False}
    assert "3 of 5 steps done" in html

    # Another shop's state ticks nothing of its own.
    assert not any(_steps(_home(client, other)).values())


def test_everything_done_says_so(client, db, shop):
    supplier = _supplier(db, shop)
    db.add(VariantMapping(shop_id=shop.id, supplier_id=supplier.id, match_key="sku:A", sku="A", supplier_sku="A1"))
    db.commit()
    token = session_token(shop.domain)
    client.post("/admin/resolutions/policy", data=_policy_form(token))
    client.get(f"/admin/notifications?id_token={token}")
    html = _home(client, shop)
    assert all(_steps(html).values()) and "Setup complete" in html


def test_what_needs_you_today_counts_each_domains_waiting_work(client, db, make_shop):
    shop, other = make_shop(), make_shop()
    supplier = _supplier(db, shop)
    held = paid_order(db, shop, number=880101)
    claimed = paid_order(db, shop, number=880102)
    stuck = paid_order(db, shop, number=880103)
    db.add(OrderFlag(shop_id=shop.id, order_id=held.id, kind="review", reason="risk", data={}))
    db.add(OrderFlag(shop_id=shop.id, order_id=held.id, kind="address", reason="address", data={}))
    db.add(Resolution(shop_id=shop.id, order_id=claimed.id, reason="damaged", status="pending_review",
                      policy_version="v1", policy_digest="0" * 64, currency="USD", amount=Decimal("5.00")))
    db.add(Resolution(shop_id=shop.id, order_id=claimed.id, reason="not_received", status="completed",
                      policy_version="v1", policy_digest="0" * 64, currency="USD"))
    shipment = add_shipment(db, stuck, tracking_number="LX000000001CN", carrier="China Post")
    db.add(ShipmentAlert(shop_id=shop.id, order_id=stuck.id, shipment_id=shipment.id, condition="no_scan"))
    so = db.get(SupplierOrder, shipment.supplier_order_id)
    db.add(SupplierSlaBreach(shop_id=shop.id, supplier_id=so.supplier_id, supplier_order_id=so.id, order_id=stuck.id,
                             condition="ship", due_at=utcnow() - timedelta(days=1), detected_at=utcnow()))
    # A breach older than the week Home looks at is on the scorecards, not a to-do.
    db.add(SupplierSlaBreach(shop_id=shop.id, supplier_id=so.supplier_id, supplier_order_id=so.id, order_id=stuck.id,
                             condition="tracking", due_at=utcnow() - timedelta(days=20),
                             detected_at=utcnow() - timedelta(days=10)))
    db.commit()
    assert supplier.id

    html = _home(client, shop)
    assert _attention(html) == {"held_orders": 1, "open_claims": 1, "parcels_in_trouble": 1, "sla_breaches": 1}
    assert "1 held order waiting for your review" in html
    # Most urgent first, each linking to the page where it is dealt with, signed in.
    links = re.findall(r'data-attention="([a-z_]+)"[^>]*>\s*<a data-nav href="(/admin/[a-z/]+)\?id_token=', html)
    assert links == [("held_orders", "/admin/review"), ("open_claims", "/admin/resolutions"),
                     ("parcels_in_trouble", "/admin/shipments"), ("sla_breaches", "/admin/suppliers/health")]
    # The other shop sees none of it.
    assert _attention(_home(client, other)) == {}


def test_home_speaks_french(client, db, shop):
    order = paid_order(db, shop, number=880201)
    db.add(OrderFlag(shop_id=shop.id, order_id=order.id, kind="review", reason="risk", data={}))
    db.commit()
    html = _home(client, shop, locale="fr-FR")
    assert '<html lang="fr">' in html
    assert "À traiter aujourd&#39;hui" in html or "À traiter aujourd'hui" in html
    assert "1 commande bloquée attend votre vérification" in html and "Guide de configuration" in html
    # Links carry the language on.
    assert re.search(r'href="/admin/review\?id_token=[^"]+&amp;locale=fr"', html)
