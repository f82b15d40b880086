"""Bulk data for the risk benchmark, generated inside PostgreSQL: one shop's year of orders (by
default 100,000) with lines, payload risk signals and outcome facts drawn from a latent model
(fraud-ring signals, destinations and products with more refunds, serial refunders), so training
has real structure to find."""

from __future__ import annotations

from sqlalchemy import Connection, text

COUNTRIES = ["US", "US", "US", "US", "GB", "GB", "FR", "DE", "CA", "AU", "ES", "IT", "BR", "MX", "IN"]


def load(connection: Connection, *, shop_id: int, orders: int, seed: float = 0.42) -> None:
    connection.execute(text("SELECT setseed(:seed)"), {"seed": seed})
    customers = max(1, int(orders * 0.6))
    connection.execute(text("""
        INSERT INTO customers (shop_id, external_id, email, first_name, last_name, locale, created_at, updated_at)
        SELECT :shop, 'bench-' || c, 'customer' || c || '@example.com', 'Bench', 'Customer', 'en', now(), now()
        FROM generate_series(1, :customers) AS c
    """), {"shop": shop_id, "customers": customers})
    connection.execute(text("""
        CREATE TEMP TABLE bench_orders AS
        SELECT drawn.*, c.id AS customer_id FROM (
            SELECT i,
                   now() - interval '365 days' + (random() * 364) * interval '1 day' AS placed_at,
                   CASE WHEN random() < 0.05 THEN 1 + (random() * 40)::int
                        ELSE 1 + (random() * (:customers - 1))::int END AS customer_no,
                   (CAST(:countries AS text[]))[1 + floor(random() * :n_countries)::int] AS destination,
                   random() < 0.05 AS fraud,
                   1 + floor(random() * 200)::int AS product,
                   (10 + random() * 90)::numeric(14, 2) AS value
            FROM generate_series(1, :orders) AS i
        ) drawn JOIN customers c ON c.shop_id = :shop AND c.external_id = 'bench-' || drawn.customer_no
    """), {"shop": shop_id, "customers": customers, "orders": orders, "countries": COUNTRIES,
           "n_countries": len(COUNTRIES)})
    connection.execute(text("""
        INSERT INTO orders (shop_id, external_id, name, customer_id, currency, total_price, financial_status, locale,
                            status, placed_at, source_updated_at, created_at, updated_at)
        SELECT :shop, 9000000000 + i, '#' || (100000 + i), customer_id, 'USD', value * (1 + fraud::int * 2),
               'paid', 'en', 'open', placed_at, placed_at, now(), now()
        FROM bench_orders
    """), {"shop": shop_id})
    connection.execute(text("""
        INSERT INTO order_lines (order_id, shop_id, external_id, product_id, variant_id, sku, title, quantity, price)
        SELECT o.id, o.shop_id, o.external_id * 10, b.product, b.product + 1000, 'SKU-' || b.product,
               'Product ' || b.product, 1, b.value
        FROM orders o JOIN bench_orders b ON o.external_id = 9000000000 + b.i WHERE o.shop_id = :shop
    """), {"shop": shop_id})
    connection.execute(text("""
        INSERT INTO risk_signals (order_id, shop_id, placed_at, customer_id, destination, value, quantity, facts)
        SELECT o.id, o.shop_id, b.placed_at, b.customer_id, b.destination, o.total_price, 1,
               jsonb_build_object(
                 'billing_country', CASE WHEN b.fraud THEN 'GB' ELSE b.destination END,
                 'ip_country', CASE WHEN b.fraud THEN 'NG' ELSE b.destination END,
                 'has_ip', true,
                 'country_mismatch', b.fraud OR random() < 0.03,
                 'name_mismatch', b.fraud OR random() < 0.06,
                 'ip_mismatch', b.fraud OR random() < 0.1,
                 'forwarder', b.fraud AND random() < 0.8,
                 'po_box', random() < 0.05,
                 'has_email', true,
                 'email_digits', CASE WHEN b.fraud OR random() < 0.2 THEN 6 ELSE 0 END,
                 'email_disposable', b.fraud AND random() < 0.7,
                 'email_name_mismatch', b.fraud OR random() < 0.1)
        FROM orders o JOIN bench_orders b ON o.external_id = 9000000000 + b.i WHERE o.shop_id = :shop
    """), {"shop": shop_id})
    # Outcomes from the latent model: fraud, lossy destinations, three bad products, serial refunders
    # (the 40 customers who place 5 % of the orders).
    connection.execute(text("""
        INSERT INTO risk_outcomes (shop_id, order_id, kind, reason, bad, occurred_at, source_ref)
        SELECT shop_id, order_id, kind, reason, true, occurred_at, 'bench:' || order_id FROM (
            SELECT o.shop_id, o.id AS order_id, CASE WHEN b.fraud THEN 'dispute' ELSE 'refund' END AS kind,
                   CASE WHEN b.fraud THEN 'fraudulent' ELSE 'not_received' END AS reason,
                   b.placed_at + (5 + random() * 45) * interval '1 day' AS occurred_at,
                   random() < 1 / (1 + exp(-(
                       -3.2 + 3.5 * b.fraud::int + 2.0 * (b.destination IN ('BR', 'MX', 'IN'))::int
                       + 1.8 * (b.product <= 6)::int
                       + 2.5 * (b.customer_no <= 41)::int
                   ))) AS happens
            FROM orders o JOIN bench_orders b ON o.external_id = 9000000000 + b.i
            WHERE o.shop_id = :shop
        ) drawn
        WHERE happens AND occurred_at <= now()
    """), {"shop": shop_id})
