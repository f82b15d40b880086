"""Bulk data for the status-page benchmark, generated inside PostgreSQL with generate_series.

100,000 orders (lines, addresses; 60 % shipped with a shipment and an expected window) spread over
a few shops, and 1,000,000 evidence events (10 per order on average, the kinds the status page
turns into its timeline). The ledger's chain trigger computes each event's hash from the previous
one under a per-shop row lock, one row at a time; for this bench database ONLY it is disabled
during the bulk load, seq/prev_hash/hash are filled set-wise (seq is a real per-chain sequence,
the hashes are placeholders: verify would reject them), then ledger_heads is set to each chain's
last seq and the trigger is enabled again, so the events the page itself appends (each view is
evidence) go through the real trigger.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

KINDS = [
    ("order.snapshot_applied", '{"changes": ["created", "paid"]}'),
    ("supplier_order.planned", '{"lines": 1}'),
    ("supplier_order.attempt", '{"attempt": 1}'),
    ("supplier_order.placed", '{"external_id": "SUP-1"}'),
    ("notification.queued", '{"stage": "order_confirmed"}'),
    ("notification.attempt", '{"stage": "order_confirmed"}'),
    ("notification.sent", '{"stage": "order_confirmed"}'),
    ("supplier_order.confirmed", '{}'),
    ("supplier_order.shipped", '{"tracking_number": "LX123456785CN"}'),
    ("notification.sent", '{"stage": "shipped"}'),
    ("status_page.viewed", '{"page": "status"}'),
    ("tracking.event", '{"status": "in_transit"}'),
]


def load(connection: Connection, *, shop_ids: list[int], supplier_ids: list[int], orders: int, events: int) -> None:
    shops = len(shop_ids)
    connection.execute(text("CREATE TEMP TABLE bench_shops (n int, shop_id bigint, supplier_id bigint)"))
    for n, (shop_id, supplier_id) in enumerate(zip(shop_ids, supplier_ids, strict=True)):
        connection.execute(text("INSERT INTO bench_shops VALUES (:n, :s, :p)"), {"n": n, "s": shop_id, "p": supplier_id})
    connection.execute(text("""
        INSERT INTO orders (shop_id, external_id, name, currency, total_price, financial_status, locale, status,
                            placed_at, source_updated_at, created_at, updated_at)
        SELECT b.shop_id, 5000000000 + i, '#' || (1000 + i), 'EUR', 10 + (i % 90) + 0.9, 'paid',
               (ARRAY['en', 'fr', 'es', 'de'])[1 + i % 4],
               (ARRAY['paid', 'supplier_ordered', 'shipped', 'shipped', 'shipped', 'delivered'])[1 + i % 6],
               now() - (i % 60) * interval '1 day', now(), now(), now()
        FROM generate_series(1, :orders) AS i JOIN bench_shops b ON b.n = i % :shops
    """), {"orders": orders, "shops": shops})
    connection.execute(text("""
        INSERT INTO order_lines (order_id, shop_id, external_id, sku, title, variant_title, quantity, price)
        SELECT o.id, o.shop_id, o.external_id * 10 + k, 'SKU-' || k, 'Product ' || k, 'Default', 1 + k, 19.90
        FROM orders o, generate_series(0, 1) AS k
        WHERE o.external_id >= 5000000000 AND (k = 0 OR o.id % 3 = 0)
    """))
    connection.execute(text("""
        INSERT INTO delivery_addresses (order_id, shop_id, name, address1, city, zip, country_code)
        SELECT id, shop_id, 'Bench Customer', '1 rue de la Paix', 'Lyon', '69003', 'FR'
        FROM orders WHERE external_id >= 5000000000
    """))
    connection.execute(text("""
        INSERT INTO supplier_orders (shop_id, order_id, supplier_id, idempotency_key, status, attempts,
                                     created_at, updated_at)
        SELECT o.shop_id, o.id, b.supplier_id, 'bench-' || o.id, 'shipped', 1, now(), now()
        FROM orders o JOIN bench_shops b ON b.shop_id = o.shop_id
        WHERE o.external_id >= 5000000000 AND o.status IN ('shipped', 'delivered')
    """))
    connection.execute(text("""
        INSERT INTO shipments (shop_id, order_id, supplier_order_id, tracking_number, carrier, tracking_url, status,
                               store_status, store_attempts, shipped_at, expected_from, expected_by,
                               created_at, updated_at)
        SELECT so.shop_id, so.order_id, so.id, 'LX' || lpad((so.id % 100000000)::text, 8, '0') || '5CN', 'La Poste',
               'https://www.laposte.fr/outils/suivre-vos-envois?code=LX' || so.id, 'in_transit', 'pushed', 1,
               now() - interval '3 days', now() + interval '4 days', now() + interval '9 days', now(), now()
        FROM supplier_orders so WHERE so.idempotency_key LIKE 'bench-%'
    """))
    # The ledger's chain trigger is disabled for the bulk load in THIS bench database only (see above).
    connection.execute(text("ALTER TABLE evidence_events DISABLE TRIGGER evidence_events_chain"))
    connection.execute(text("""
        INSERT INTO evidence_events (chain, seq, shop_id, order_id, kind, source, occurred_at, recorded_at, data,
                                     digest, prev_hash, hash)
        SELECT s.domain, coalesce(h.seq, 0) + row_number() OVER (PARTITION BY o.shop_id ORDER BY o.id, e),
               o.shop_id, o.id, (CAST(:kinds AS text[]))[1 + e % :n], 'dropguard',
               o.placed_at + e * interval '7 hours', now(), ((CAST(:datas AS text[]))[1 + e % :n])::jsonb,
               md5(o.id::text || ':' || e) || md5(e::text || ':' || o.id), repeat('0', 64),
               md5(o.id::text || '/' || e) || md5(e::text || '/' || o.id)
        FROM orders o
        JOIN shops s ON s.id = o.shop_id
        LEFT JOIN ledger_heads h ON h.chain = s.domain
        CROSS JOIN generate_series(0, :per_order - 1) AS e
        WHERE o.external_id >= 5000000000
    """), {"per_order": max(1, events // orders), "kinds": [k for k, _ in KINDS], "datas": [d for _, d in KINDS],
          "n": len(KINDS)})
    connection.execute(text("""
        INSERT INTO ledger_heads (chain, seq, hash)
        SELECT chain, max(seq), repeat('0', 64) FROM evidence_events GROUP BY chain
        ON CONFLICT (chain) DO UPDATE SET seq = EXCLUDED.seq
    """))
    connection.execute(text("ALTER TABLE evidence_events ENABLE TRIGGER evidence_events_chain"))
