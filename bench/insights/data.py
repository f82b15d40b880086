"""Bulk data for the insights benchmark, on top of the status-page bench's orders and ledger.

Set-wise in PostgreSQL: 250 products, five suppliers per shop with the orders spread over them, eight
destination countries, supplier confirm and ship times, a third of the parcels scanned and
delivered (some late against their window, 1 % returned), disputes on 2 % of the orders, claims on
5 %, and customer messages on 8 % (their classification set as the queue would). The insight facts
and aggregates are then built by the real refresh (bench/insights/__main__.py), not here.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

COUNTRIES = ["FR", "US", "DE", "ES", "GB", "IT", "BE", "CA"]
CARRIERS = ["La Poste", "USPS", "DHL", "Correos", "Royal Mail", "YunExpress"]
REASONS = ["not_received", "late", "damaged", "not_as_described", "wrong_item", "size", "changed_mind", "other"]


def load(connection: Connection) -> None:
    # 250 products, and suppliers, countries and carriers drawn independently of each other (by
    # different multipliers of the order id), so the aggregates have as many rows as a real shop's.
    connection.execute(text("""
        UPDATE order_lines SET product_id = 7000 + (order_id * 37) % 250,
               title = 'Product ' || ((order_id * 37) % 250), sku = 'SKU-' || ((order_id * 37) % 250)
        WHERE external_id % 10 = 0
    """))
    connection.execute(text("""
        INSERT INTO suppliers (shop_id, name, protocol, is_default, settings, created_at, updated_at)
        SELECT s.id, 'Supplier ' || k, 'generic', false, '{}'::jsonb, now(), now()
        FROM shops s, generate_series(2, 5) AS k
    """))
    connection.execute(text("""
        UPDATE supplier_orders so SET supplier_id = p.id
        FROM suppliers p
        WHERE p.shop_id = so.shop_id AND (so.order_id * 31) % 5 <> 0 AND p.name = 'Supplier ' || (1 + (so.order_id * 31) % 5)
    """))
    connection.execute(text("""
        UPDATE delivery_addresses SET country_code = (CAST(:countries AS text[]))[1 + (order_id * 7919) % 8]
    """), {"countries": COUNTRIES})
    connection.execute(text("""
        UPDATE supplier_orders so SET placed_at = o.placed_at + interval '10 minutes',
               confirmed_at = o.placed_at + (2 + so.order_id % 40) * interval '1 hour',
               shipped_at = o.placed_at + (1 + so.order_id % 7) * interval '1 day'
        FROM orders o WHERE o.id = so.order_id
    """))
    connection.execute(text("""
        UPDATE shipments sh SET carrier = (CAST(:carriers AS text[]))[1 + (sh.order_id * 104729) % 6],
               shipped_at = so.shipped_at, created_at = so.shipped_at,
               first_scan_at = so.shipped_at + (sh.order_id % 3) * interval '1 day',
               status = CASE WHEN sh.order_id % 100 = 7 THEN 'returned'
                             WHEN sh.order_id % 3 = 0 THEN 'delivered' ELSE 'in_transit' END,
               delivered_at = CASE WHEN sh.order_id % 3 = 0 AND sh.order_id % 100 <> 7
                                   THEN so.shipped_at + (4 + sh.order_id % 15) * interval '1 day' END,
               expected_by = so.shipped_at + interval '12 days'
        FROM supplier_orders so WHERE so.id = sh.supplier_order_id
    """), {"carriers": CARRIERS})
    connection.execute(text("""
        INSERT INTO disputes (shop_id, order_id, external_id, status, reason, amount, currency, opened_at,
                              created_at, updated_at)
        SELECT shop_id, id, 'bench-' || id, 'needs_response',
               (ARRAY['product_not_received', 'fraudulent', 'product_unacceptable'])[1 + id % 3],
               total_price, currency, placed_at + interval '20 days', now(), now()
        FROM orders WHERE external_id >= 5000000000 AND id % 50 = 3
    """))
    connection.execute(text("""
        INSERT INTO resolutions (shop_id, order_id, reason, status, locale, message, photos, offers, policy_version,
                                 policy_digest, remedy, amount, currency, decided_by, created_at, updated_at)
        SELECT shop_id, id, (ARRAY['not_received', 'damaged', 'not_as_described', 'wrong_item', 'changed_mind'])[1 + id % 5],
               (ARRAY['completed', 'approved', 'denied', 'pending_review'])[1 + id % 4], 'en', 'bench claim',
               '[]'::jsonb, '[]'::jsonb, 'default-1', repeat('0', 64),
               (ARRAY['full_refund', 'partial_refund', 'reship', 'store_credit'])[1 + id % 4],
               total_price / 2, currency, 'merchant', placed_at + interval '15 days', now()
        FROM orders WHERE external_id >= 5000000000 AND id % 20 = 1
    """))
    connection.execute(text("""
        INSERT INTO customer_messages (shop_id, order_id, source, source_ref, body, received_at, reason, urgent,
                                       language, confidence, because, model, classified_at, created_at, updated_at)
        SELECT shop_id, id, 'email', 'bench-' || id, 'Where is my order ' || name, placed_at + interval '9 days',
               (CAST(:reasons AS text[]))[1 + id % 8], id % 7 = 0, 'en', 0.8, '[]'::jsonb, 'bench', now(), now(), now()
        FROM orders WHERE external_id >= 5000000000 AND id % 12 = 5
    """), {"reasons": REASONS})
