"""The disputes pages: list with countdown and completeness, the dispute page element by element,
the summary edited (and put back), the one-click submit queued once, EN and FR, tenancy."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.db import utcnow
from app.disputes.models import Dispute
from app.outbox.models import OutboxMessage
from tests.disputes.helpers import hold
from tests.disputes.scenario import delivered_with_partial_refund
from tests.factories import session_token


def _page(client, path: str, shop, locale: str = "en"):
    return client.get(f"{path}?id_token={session_token(shop.domain)}&shop={shop.domain}&locale={locale}")


def test_list_detail_edit_and_submit(db, shop, make_shop, client, post_webhook):
    order, shipment, payload = delivered_with_partial_refund(db, shop, client, post_webhook)
    dispute_id = db.scalar(select(Dispute.id).where(Dispute.external_id == str(payload["id"])))

    listed = _page(client, "/admin/disputes", shop)
    assert listed.status_code == 200
    row = re.search(rf'<tr data-dispute="{dispute_id}">(.*?)</tr>', listed.text, re.S).group(1)
    assert order.name in row and "Product not received" in row and "29.80" in row
    assert re.search(r"data-countdown>1[78] days left<", row) and 'data-complete="yes"' in row
    french = _page(client, "/admin/disputes", shop, "fr")
    assert "Litiges" in french.text and "jours restants" in french.text and "complètes" in french.text

    page = _page(client, f"/admin/disputes/{dispute_id}", shop)
    assert page.status_code == 200
    for key in ("order", "carrier_tracking", "scan_timeline", "delivery_scan", "address_match", "refunds"):
        assert f'data-element="{key}" data-present="yes"' in page.text, key
    assert shipment.tracking_number in page.text and "Download the evidence PDF" in page.text
    assert 'data-element="status_visits" data-present="no"' in page.text and "Why it is missing" in page.text

    # The merchant edits the summary; the edit is what the page and the API show from then on.
    edited = client.post(f"/admin/disputes/{dispute_id}/narrative",
                         data={"id_token": session_token(shop.domain), "text": "Delivered to Chicago, see scans.",
                               "action": "save"}, follow_redirects=False)
    assert edited.status_code == 303 and "notice=Summary+saved" in edited.headers["location"]
    db.expire_all()
    assert db.get(Dispute, dispute_id).narrative == "Delivered to Chicago, see scans."
    assert "You edited this text." in _page(client, f"/admin/disputes/{dispute_id}", shop).text
    reset = client.post(f"/admin/disputes/{dispute_id}/narrative",
                        data={"id_token": session_token(shop.domain), "text": "", "action": "reset"})
    assert reset.status_code == 200
    db.expire_all()
    assert db.get(Dispute, dispute_id).narrative is None

    # One click queues the submission once; a second click is told it is already on its way.
    first = client.post(f"/admin/disputes/{dispute_id}/submit", data={"id_token": session_token(shop.domain)},
                        follow_redirects=False)
    assert first.status_code == 303 and "Sending+the+evidence" in first.headers["location"]
    hold(db)
    db.commit()
    second = client.post(f"/admin/disputes/{dispute_id}/submit", data={"id_token": session_token(shop.domain)},
                         follow_redirects=False)
    assert "already+queued" in second.headers["location"]
    queued = db.scalars(select(OutboxMessage.args).where(OutboxMessage.task_name == "disputes.submit")).all()
    assert queued.count([dispute_id]) == 1
    assert 'data-submission="queued"' in _page(client, f"/admin/disputes/{dispute_id}", shop).text
    locked = client.post(f"/admin/disputes/{dispute_id}/narrative",
                         data={"id_token": session_token(shop.domain), "text": "late edit", "action": "save"},
                         follow_redirects=False)
    assert "can+no+longer+change" in locked.headers["location"]

    pdf = client.get(f"/admin/disputes/{dispute_id}/evidence.pdf?id_token={session_token(shop.domain)}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = make_shop()
    assert _page(client, f"/admin/disputes/{dispute_id}", other).status_code == 404
    assert f'data-dispute="{dispute_id}"' not in _page(client, "/admin/disputes", other).text


def test_order_page_card_and_home_attention(db, shop, client, post_webhook):
    from app.disputes import reminders
    from app.orders.models import Order
    from app.web.attention import waiting
    from app.web.panels import order_panels
    from app.web.rendering import page_templates

    order, shipment, payload = delivered_with_partial_refund(db, shop, client, post_webhook)
    dispute_id = db.scalar(select(Dispute.id).where(Dispute.external_id == str(payload["id"])))
    panels = {panel.key: (panel, context) for panel, context in order_panels(db, shop, db.get(Order, order.id))}
    panel, context = panels["disputes"]
    html = page_templates().env.get_template(panel.template).render(panel=context, locale="fr", nav_query="id_token=x")
    assert f'data-dispute="{dispute_id}"' in html and "Litige" in html and "réponse attendue" in html
    assert "Product not received" in html and "jours restants" in html
    # Home asks for an answer only once the deadline is near (18 days here, reminders at 5).
    assert reminders.count_due(db, shop) == 0
    db.get(Dispute, dispute_id).evidence_due_by = utcnow() + timedelta(days=2)
    db.commit()
    assert ("disputes_due", 1) in [(item.key, count) for item, count in waiting(db, shop)]
