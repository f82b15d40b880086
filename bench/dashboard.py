"""Orders list and order page benchmark: whole requests through the app, against a bare SQL query
of the same rows on the same database in the same run.

    python -m bench.dashboard --orders 100000 --events 1000000 --repeat 50

A scratch database (bench/scratch.py) is migrated and filled set-wise (INSERT ... SELECT over
generate_series: the status-page bench's orders, lines, addresses, supplier orders, parcels and
ledger events, plus a customer per order, a spread of order dates, risk scores and holds), all in
ONE shop — the worst case, every list query reads that shop's orders. Each case is then requested
`--repeat` times in turn with its bare query: the list's first page, a search by e-mail, a search
by tracking number, a filter (status + country + at risk), a deep keyset page (past 90 % of the
orders), and one order's page. The plans of the list's queries are printed (EXPLAIN), which is how
the indexes of migrations/versions/2026-12-04-2100_orders_list_indexes.py were chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from bench.ingest import RESULTS, ROOT
from bench.scratch import ScratchDatabase
from bench.status_page import data as base_data

TARGET_MS = 150.0
DOMAIN = "bench-dashboard.myshopify.com"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_percentile(values, 0.5), 2), "p95_ms": round(_percentile(values, 0.95), 2),
            "mean_ms": round(statistics.fmean(values), 2)}


def _load_extra(connection, shop_id: int) -> None:
    """What the list searches and filters on, beyond the status-page data."""
    connection.execute(text("""
        UPDATE orders SET created_at = placed_at - (id % 86400) * interval '1 second' WHERE shop_id = :shop
    """), {"shop": shop_id})
    connection.execute(text("""
        INSERT INTO customers (shop_id, external_id, email, first_name, last_name, created_at, updated_at)
        SELECT o.shop_id, 'bench-' || o.id, 'buyer' || o.id || '@example.com',
               (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'John'])[1 + o.id % 8],
               (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Backus'])[1 + (o.id / 8) % 8]
                 || (o.id % 1000)::text,
               now(), now()
        FROM orders o WHERE o.shop_id = :shop
    """), {"shop": shop_id})
    connection.execute(text("""
        UPDATE orders o SET customer_id = c.id FROM customers c
        WHERE c.shop_id = o.shop_id AND c.external_id = 'bench-' || o.id AND o.shop_id = :shop
    """), {"shop": shop_id})
    connection.execute(text("""
        UPDATE delivery_addresses SET country_code = (ARRAY['FR', 'US', 'DE', 'GB', 'ES'])[1 + order_id % 5]
        WHERE shop_id = :shop
    """), {"shop": shop_id})
    connection.execute(text("""
        INSERT INTO risk_scores (order_id, shop_id, probability, level, reasons, features, model_kind, model_version,
                                 trigger, digest, scored_at)
        SELECT id, shop_id, (id % 100) / 100.0, CASE WHEN id % 100 >= 70 THEN 'high' WHEN id % 100 >= 30
               THEN 'medium' ELSE 'low' END, '[]', '{}', 'rules', 'bench', 'paid', md5(id::text), now()
        FROM orders WHERE shop_id = :shop
    """), {"shop": shop_id})
    connection.execute(text("""
        INSERT INTO order_flags (shop_id, order_id, kind, reason, data, created_at, updated_at)
        SELECT shop_id, id, 'address', 'the city is missing', '{}', now(), now()
        FROM orders WHERE shop_id = :shop AND id % 50 = 0
    """), {"shop": shop_id})


# name -> (query string of the page, bare SQL of the same rows)
def _cases(connection, shop_id: int, orders: int) -> dict[str, tuple[str, str, dict]]:
    from app.dashboard.orders_list import encode_cursor

    deep = connection.execute(text("""
        SELECT created_at, id FROM orders WHERE shop_id = :shop ORDER BY created_at DESC, id DESC
        OFFSET :at LIMIT 1"""), {"shop": shop_id, "at": int(orders * 0.9)}).one()
    probe = connection.execute(text("""
        SELECT o.id, c.email, s.tracking_number FROM orders o JOIN customers c ON c.id = o.customer_id
        JOIN shipments s ON s.order_id = o.id WHERE o.shop_id = :shop ORDER BY o.id LIMIT 1 OFFSET :at
    """), {"shop": shop_id, "at": orders // 3}).one()
    page = """SELECT o.*, c.first_name, c.last_name, c.email FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
              WHERE o.shop_id = :shop {where} ORDER BY o.created_at DESC, o.id DESC LIMIT 51"""
    search_email = probe.email.split("@")[0]
    return {
        "list: first page": ("", page.format(where=""), {}),
        "list: search e-mail": (f"q={search_email}", page.format(where="""AND o.customer_id IN (SELECT id FROM customers
            WHERE shop_id = :shop AND lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' ||
            coalesce(email, '')) LIKE :like)"""), {"like": f"%{search_email}%"}),
        "list: search tracking": (f"q={probe.tracking_number}", page.format(
            where="AND o.id IN (SELECT order_id FROM shipments WHERE shop_id = :shop AND tracking_number = :t)"),
            {"t": probe.tracking_number}),
        "list: filter status+country+at risk": ("status=shipped&country=FR&at_risk=yes", page.format(
            where="""AND o.status = 'shipped' AND EXISTS (SELECT 1 FROM delivery_addresses d WHERE d.order_id = o.id
                     AND d.country_code = 'FR') AND EXISTS (SELECT 1 FROM risk_scores r WHERE r.order_id = o.id
                     AND r.probability >= 0.7)"""), {}),
        "list: deep keyset page (90 %)": (f"after={encode_cursor(deep.created_at, deep.id)}", page.format(
            where="AND (o.created_at, o.id) < (:at, :id)"), {"at": deep.created_at, "id": deep.id}),
        "order page": (f"/order/{probe.id}", """
            SELECT (SELECT row_to_json(o) FROM orders o WHERE o.id = :order),
                   (SELECT json_agg(l) FROM order_lines l WHERE l.order_id = :order),
                   (SELECT json_agg(e ORDER BY e.seq) FROM evidence_events e WHERE e.shop_id = :shop AND e.order_id = :order),
                   (SELECT json_agg(s) FROM shipments s WHERE s.order_id = :order),
                   (SELECT json_agg(so) FROM supplier_orders so WHERE so.order_id = :order)""", {"order": probe.id}),
    }


def _explain(connection, shop_id: int) -> None:
    from sqlalchemy.dialects import postgresql

    from app.dashboard import orders_list
    from app.shops.models import Shop

    shop = Shop(id=shop_id, domain=DOMAIN, settings={})
    for label, params in (("first page", {}), ("search e-mail", {"q": "buyer4242"}),
                          ("search tracking", {"q": "LX000042425CN"})):
        query, _ = orders_list.parse(params)
        statement = orders_list.page_select(shop, query).compile(dialect=postgresql.dialect(),
                                                                  compile_kwargs={"literal_binds": True})
        plan = connection.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}")).scalars().all()
        print(f"-- EXPLAIN {label}:\n   " + "\n   ".join(plan), flush=True)


def _time(url: str, shop_id: int, orders: int, repeat: int) -> dict[str, dict]:
    os.environ["DROPGUARD_DATABASE_URL"] = url
    from fastapi.testclient import TestClient

    from app.config import get_settings
    from app.db import reset_engine
    from app.main import create_app
    from app.sandbox.tokens import mint_session_token

    get_settings.cache_clear()
    reset_engine()
    engine = create_engine(url)
    results: dict[str, dict] = {}
    with engine.connect() as connection:
        cases = _cases(connection, shop_id, orders)
        _explain(connection, shop_id)
        with TestClient(create_app(start_relay=False)) as client:
            for name, (query, bare, params) in cases.items():
                path = (f"/admin/orders/{query.rsplit('/', 1)[1]}?" if query.startswith("/order/")
                        else f"/admin/orders?{query}&")

                def get(path=path):
                    response = client.get(path + f"id_token={mint_session_token(DOMAIN)}&shop={DOMAIN}")
                    if response.status_code != 200 or "data-list-problems" in response.text:
                        raise SystemExit(f"bench: {path} answered {response.status_code}: {response.text[:300]}")
                    return response

                get()
                rows = connection.execute(text(bare), {"shop": shop_id, **params}).all()
                project, baseline, cpu = [], [], []
                for _ in range(repeat):
                    begun, begun_cpu = time.perf_counter(), time.process_time()
                    get()
                    project.append((time.perf_counter() - begun) * 1000)
                    # The app's own CPU (server and client share this process): what the machine's
                    # load does not inflate, unlike wall time.
                    cpu.append((time.process_time() - begun_cpu) * 1000)
                    begun = time.perf_counter()
                    connection.execute(text(bare), {"shop": shop_id, **params}).all()
                    baseline.append((time.perf_counter() - begun) * 1000)
                results[name] = {"project": _summary(project), "baseline": _summary(baseline),
                                 "app_cpu": _summary(cpu), "rows": len(rows)}
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    scratch = ScratchDatabase("dashboard")
    env = {**os.environ, **scratch.env()}
    os.environ.update(scratch.env())
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        scratch.create()
        for argv in (["migrate"], ["shops", "add", DOMAIN, "--access-token", "shpat_bench"]):
            done = subprocess.run([sys.executable, "-m", "app.cli", *argv], cwd=ROOT, env=env, capture_output=True,
                                  text=True)
            if done.returncode:
                raise SystemExit(f"bench: dropguard {argv[0]} failed: {done.stderr.strip()[-2000:]}")
        engine = create_engine(scratch.url)
        started = time.monotonic()
        with engine.begin() as connection:
            shop_id, supplier_id = connection.execute(text(
                "SELECT s.id, (SELECT min(p.id) FROM suppliers p WHERE p.shop_id = s.id) FROM shops s")).one()
            base_data.load(connection, shop_ids=[shop_id], supplier_ids=[supplier_id], orders=args.orders,
                           events=args.events)
            _load_extra(connection, shop_id)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                      for t in ("orders", "customers", "shipments", "evidence_events")}
        engine.dispose()
        print(f"bench: loaded {counts} in {time.monotonic() - started:.0f} s", flush=True)

        results = _time(scratch.url, shop_id, args.orders, args.repeat)
        print()
        print(f"{'request':<40} {'p50 ms':>8} {'p95 ms':>8} {'bare p50':>9} {'bare p95':>9} {'ratio p95':>9}"
              f" {'app cpu p50':>11}")
        met = True
        for name, figures in results.items():
            project, baseline = figures["project"], figures["baseline"]
            met &= project["p95_ms"] < TARGET_MS
            ratio = project["p95_ms"] / baseline["p95_ms"] if baseline["p95_ms"] else float("inf")
            print(f"{name:<40} {project['p50_ms']:8.2f} {project['p95_ms']:8.2f} {baseline['p50_ms']:9.2f}"
                  f" {baseline['p95_ms']:9.2f} {ratio:9.1f} {figures['app_cpu']['p50_ms']:11.2f}")
        print(f"target (every request p95 < {TARGET_MS:.0f} ms): {'met' if met else 'NOT met'}")
        load = os.getloadavg()
        print(f"machine load average during the run: {load[0]:.1f} (1 min), {load[2]:.1f} (15 min) on "
              f"{os.cpu_count()} cores")
        record = {"load_average": load, "when": datetime.now(UTC).isoformat(), "args": vars(args), "counts": counts, "results": results}
        out = RESULTS / f"dashboard-{scratch.run_id}.json"
        out.write_text(json.dumps(record, indent=2))
        print(f"details: {out.relative_to(ROOT)}")
        return 0 if met else 1
    finally:
        scratch.drop()


if __name__ == "__main__":
    raise SystemExit(main())
