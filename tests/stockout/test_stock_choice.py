"""No supplier has stock: the customer is asked (message + status-page choice), answers once, the
answer is carried out exactly once (double submits, racing submits), and the merchant sees it."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import select, update

from app.db import utcnow
from app.notifications.models import Notification
from app.outbox.models import OutboxMessage
from app.refunds import service as refunds
from app.refunds.models import Refund
from app.status.tokens import token_for
from app.stockout import pages as stock_pages
from app.stockout import service
from app.stockout.models import StockChoice
from app.suppliers import ordering
from app.suppliers.models import SupplierOrder
from app.suppliers.tables import OrderFlag
from app.templating import environment
from app.web import panels
from tests.notifications.helpers import kinds, paid_order


def _hold(db) -> None:
    db.flush()
    db.execute(update(OutboxMessage).where(OutboxMessage.dispatched_at.is_(None)).values(dispatched_at=utcnow()))


def _out_of_stock(db, shop, **order):
    """A paid order whose only supplier refused every line: no supplier left."""
    placed = paid_order(db, shop, **order)
    ordering.plan(db, placed)
    (so,) = db.scalars(select(SupplierOrder).where(SupplierOrder.order_id == placed.id)).all()
    so.status, so.last_error = "failed", "out_of_stock"
    assert ordering.fall_back(db, shop, placed, so, "out_of_stock") == []
    _hold(db)
    db.commit()
    return placed


def _flag_open(db, order) -> bool:
    db.expire_all()
    return db.scalar(select(OrderFlag.id).where(OrderFlag.order_id == order.id, OrderFlag.kind == service.FLAG,
                                                OrderFlag.resolved_at.is_(None))) is not None


def test_no_supplier_left_asks_the_customer_once(db, make_shop):
    shop = make_shop()
    order = _out_of_stock(db, shop)
    choice = service.for_order(db, order.id)
    assert (choice.status, choice.amount, choice.currency) == ("asked", order.total_price, order.currency)
    assert sorted(choice.line_ids) == sorted(line.id for line in order.lines)
    assert _flag_open(db, order)
    (message,) = db.scalars(select(Notification).where(Notification.order_id == order.id,
                                                       Notification.stage == "stock_choice")).all()
    assert message.context == {"amount": str(order.total_price), "currency": order.currency}
    assert service.ask(db, shop, order, choice.line_ids, "out_of_stock") is None  # asked already
    assert kinds(order.id, "stock_choice.") == ["stock_choice.asked"]
    assert service.count_open(db, shop) == 1


@pytest.mark.parametrize(("lang", "phrase"), [("en", "Wait until they are back in stock"),
                                              ("fr", "Attendre leur retour en stock"),
                                              ("es", "Esperar a que vuelvan"), ("de", "Warten, bis sie wieder")])
def test_the_status_page_offers_the_choice_in_the_customers_language(db, client, make_shop, lang, phrase):
    shop = make_shop()
    order = _out_of_stock(db, shop, locale=lang)
    status_page = client.get(f"/status/{token_for(order)}?lang={lang}")
    assert f"/status/{token_for(order)}/stock-choice" in status_page.text
    page = client.get(f"/status/{token_for(order)}/stock-choice?lang={lang}")
    assert page.status_code == 200 and phrase in page.text
    assert "supplier" not in page.text.lower() and "out_of_stock" not in page.text


def test_cancel_submitted_twice_refunds_once(db, client, make_shop):
    shop = make_shop()
    order = _out_of_stock(db, shop)
    url = f"/status/{token_for(order)}/stock-choice"
    first = client.post(url, data={"option": "cancel"}, follow_redirects=False)
    second = client.post(url, data={"option": "wait"}, follow_redirects=False)  # a second tab, too late
    assert first.status_code == second.status_code == 303
    db.expire_all()
    choice = service.for_order(db, order.id)
    assert (choice.choice, choice.status) == ("cancel", "refund_requested")
    (refund,) = db.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert (refund.issued_by, refund.reason, refund.amount, refund.id) == ("stockout", "cancelled", order.total_price,
                                                                           choice.refund_id)
    assert kinds(order.id, "stock_choice.") == ["stock_choice.asked", "stock_choice.cancel_chosen"]
    assert not _flag_open(db, order)
    # A refund asked for is not a refund made: the page says so until the store confirms.
    page = client.get(url)
    assert "has been requested" in page.text and "has been made" not in page.text

    # The store confirms: the choice is told (with the refund's id) and reads refunded.
    refunds.notify_origin(db, refund)
    _hold(db)
    db.commit()
    told = db.scalars(select(OutboxMessage.args).where(OutboxMessage.task_name == "stockout.refund_settled")).all()
    assert [refund.id] in told
    assert service.refund_settled(refund.id) == "refund_requested"  # not confirmed yet: nothing moves
    db.execute(update(Refund).where(Refund.id == refund.id).values(status="confirmed", external_id="9001"))
    db.commit()
    assert service.refund_settled(refund.id) == "refunded"
    assert service.refund_settled(refund.id) == "refunded"
    assert kinds(order.id, "stock_choice.").count("stock_choice.refunded") == 1
    assert "has been made" in client.get(url).text
    assert service.count_open(db, shop) == 0


def test_racing_submits_carry_out_one_answer(db, live_server, make_shop):
    shop = make_shop()
    order = _out_of_stock(db, shop)
    url = f"{live_server}/status/{token_for(order)}/stock-choice"
    barrier, answers = threading.Barrier(6), []

    def submit(option: str) -> None:
        barrier.wait()
        answers.append(httpx.post(url, data={"option": option}, timeout=30, follow_redirects=False).status_code)

    threads = [threading.Thread(target=submit, args=("cancel" if i % 2 else "wait",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [303] * 6
    db.expire_all()
    choice = service.for_order(db, order.id)
    chosen = kinds(order.id, "stock_choice.")
    assert len([k for k in chosen if k in ("stock_choice.wait_chosen", "stock_choice.cancel_chosen")]) == 1
    refunds_made = db.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert len(refunds_made) == (1 if choice.choice == "cancel" else 0)


def test_waiting_keeps_the_order_for_the_merchant_and_shows_on_the_order_card(db, client, make_shop):
    shop = make_shop()
    order = _out_of_stock(db, shop)
    url = f"/status/{token_for(order)}/stock-choice"
    refused = client.post(url, data={"option": "free_stuff"})
    assert refused.status_code == 400 and "Please choose one of the two options." in refused.text
    assert client.post(url, data={"option": "wait"}, follow_redirects=False).status_code == 303
    db.expire_all()
    choice = service.for_order(db, order.id)
    assert (choice.status, choice.refund_id) == ("waiting", None)
    assert db.scalars(select(Refund).where(Refund.order_id == order.id)).all() == []
    assert _flag_open(db, order)  # the merchant still has items to send once they are back
    assert "We will send the items as soon as they are back in stock" in client.get(url).text

    found = {p.key: (p, c) for p, c in panels.order_panels(db, shop, order)}
    panel, context = found["stock_choice"]
    html = environment().get_template(panel.template).render(panel=context, locale="en")
    assert 'data-stock-choice="waiting"' in html and "waits for the restock" in html
    french = environment().get_template(panel.template).render(panel=context, locale="fr")
    assert "attend le réassort" in french
    other = make_shop()
    assert stock_pages._order_panel(db, other, paid_order(db, other)) is None
    assert service.count_open(db, shop) == 0


def test_a_bad_link_or_an_order_without_a_choice_is_not_found(db, client, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    assert client.get(f"/status/{token_for(order)}/stock-choice").status_code == 404
    assert client.post("/status/" + "x" * 44 + "/stock-choice", data={"option": "wait"}).status_code == 404
    assert db.scalars(select(StockChoice).where(StockChoice.order_id == order.id)).all() == []
