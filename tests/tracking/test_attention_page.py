"""The merchant's "shipments needing attention" page and its place in the dashboard navigation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from app.db import utcnow
from app.tracking import delays
from tests.factories import session_token
from tests.suppliers.helpers import hold_outbox
from tests.tracking.helpers import shipment_for

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def test_open_alerts_are_listed_with_advice_and_resolved_ones_are_not(client, db, shop):
    shipped = utcnow() - timedelta(days=8)
    order, late = shipment_for(db, shop, shipped_at=shipped)
    _, fine = shipment_for(db, shop, shipped_at=utcnow())
    assert delays.check(db, late.id) == ["no_first_scan"]
    hold_outbox(db)
    db.commit()

    token = session_token(shop.domain)
    page = client.get(f"/admin/shipments?id_token={token}")
    assert page.status_code == 200, page.text
    assert 'data-condition="no_first_scan"' in page.text and "No carrier scan yet" in page.text
    assert late.tracking_number in page.text and fine.tracking_number not in page.text
    assert order.name in page.text
    assert 'href="/admin/shipments' in client.get(f"/admin?id_token={token}").text  # in the navigation

    db.execute(
        text("UPDATE shipment_alerts SET resolved_at = now() WHERE shipment_id = :s"),
        {"s": late.id},
    )
    db.commit()
    page = client.get(f"/admin/shipments?id_token={token}")
    assert late.tracking_number not in page.text and "Nothing needs attention" in page.text
