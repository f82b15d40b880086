"""Evidence pack and PDF for one disputed order with ~300 ledger events, against a bare select of the
same events in the same run (the least any pack must do: read them).

    python -m bench.disputes [--events 300] [--runs 15]

With DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL set it uses those servers (a scratch database,
dropped at the end). Prints medians in milliseconds, the ratios to the baseline, and the PDF's size
and page count. Targets (issue 14): pack + PDF built in < 2 s, PDF < 1 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

from bench.scratch import ScratchDatabase


def _median_ms(work, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    scratch = ScratchDatabase("disputes")
    scratch.create()
    os.environ.update(scratch.env())
    try:
        return _run(args)
    finally:
        scratch.drop()


def _fill(events: int) -> tuple[int, int]:
    """A shop, a shipped order, its scans, messages and visits, and a not-received dispute."""
    from sqlalchemy import select

    import app.models  # noqa: F401 - every mapper configured
    from app.db import session_scope, utcnow
    from app.disputes import service as disputes
    from app.evidence import service as evidence
    from app.fulfilments.models import Shipment
    from app.orders.service import apply_snapshot
    from app.shops.service import add_shop
    from app.suppliers.models import SupplierOrder
    from app.suppliers.service import plan_for_order
    from tests.factories import order_payload

    with session_scope() as session:
        shop = add_shop(session, domain="bench-disputes.myshopify.com", access_token="shpat_bench")
        order, _ = apply_snapshot(session, shop, "orders/paid", order_payload())
        plan_for_order(session, order)
        session.flush()
        so = session.scalar(select(SupplierOrder).where(SupplierOrder.order_id == order.id))
        start = utcnow() - timedelta(days=30)
        shipment = Shipment(shop_id=shop.id, order_id=order.id, supplier_order_id=so.id, tracking_number="LX123456785CN",
                            carrier="China Post", status="delivered", store_status="pushed", store_attempts=1,
                            shipped_at=start, delivered_at=start + timedelta(days=20))
        session.add(shipment)
        session.flush()
        evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="shipment.created",
                        source="supplier", data={"carrier": "China Post"}, occurred_at=start)
        left = events - len(evidence.for_order(session, shop_id=shop.id, order_id=order.id)) - 2
        scans, messages = int(left * 0.8), int(left * 0.1)
        for i in range(scans):
            last = i == scans - 1
            evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="tracking.scan",
                            source="17track", occurred_at=start + timedelta(hours=i + 1),
                            data={"provider": "17track", "status": "delivered" if last else "in_transit"},
                            personal={"location": "Springfield, 62704, US" if last else f"Hub {i % 17}, CN",
                                      "description": "Delivered" if last else "In transit"})
        for i in range(messages):
            evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="notification.sent",
                            source="dropguard", occurred_at=start + timedelta(days=1, hours=i),
                            data={"channel": "email", "stage": "shipped", "subject": f"Update {i}"})
        for i in range(left - scans - messages):
            evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="status_page.viewed",
                            source="customer", occurred_at=start + timedelta(days=2, hours=i), data={})
        evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="shipment.delivered",
                        source="17track", occurred_at=shipment.delivered_at, data={"provider": "17track"})
        dispute = disputes.upsert(session, shop, {
            "id": 900001, "order_id": order.external_id, "type": "chargeback", "amount": "39.80", "currency": "USD",
            "reason": "product_not_received", "network_reason_code": "13.1", "status": "needs_response",
            "evidence_due_by": (utcnow() + timedelta(days=18)).isoformat(), "initiated_at": utcnow().isoformat()})
        return dispute.id, order.id


def _run(args) -> int:
    from app.db import get_sessionmaker
    from app.migrate import upgrade_to_head

    upgrade_to_head()
    dispute_id, order_id = _fill(args.events)
    from app.disputes import document, export, narrative, packs
    from app.disputes.models import Dispute
    from app.evidence import service as evidence

    with get_sessionmaker()() as session:
        dispute = session.get(Dispute, dispute_id)
        count = len(evidence.for_order(session, shop_id=dispute.shop_id, order_id=order_id))

        def baseline():
            session.expire_all()
            return evidence.for_order(session, shop_id=dispute.shop_id, order_id=order_id)

        def pack():
            session.expire_all()
            built = packs.build(session, session.get(Dispute, dispute_id))
            return built, narrative.current(built)

        def pack_and_pdf():
            built, text = pack()
            return document.render(session, built, text)

        def pack_and_export():
            built, _ = pack()
            return export.build(session, built.chain, built.cited)

        base_ms, _ = _median_ms(baseline, args.runs)
        pack_ms, (built, _) = _median_ms(pack, args.runs)
        pdf_ms, rendered = _median_ms(pack_and_pdf, args.runs)
        export_ms, exported = _median_ms(pack_and_export, args.runs)
    print(f"order with {count} ledger events; pack cites {len(built.cited)}, complete={built.complete}; "
          f"{args.runs} runs each, medians")
    print(f"baseline  select of the order's events   {base_ms:8.1f} ms")
    print(f"pack      + narrative                    {pack_ms:8.1f} ms  ({pack_ms / base_ms:5.1f}x baseline)")
    print(f"pack+PDF  (incl. chain check)             {pdf_ms:8.1f} ms  ({pdf_ms / base_ms:5.1f}x baseline)"
          f"  target < 2000 ms")
    print(f"pack+export (verifiable file)            {export_ms:8.1f} ms  ({export_ms / base_ms:5.1f}x baseline)")
    print(f"PDF       {len(rendered.data) / 1024:8.1f} KiB, {rendered.pages} pages  target < 1024 KiB, <= "
          f"{document.MAX_PAGES} pages; export {len(exported) / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
