"""Inventory sync benchmark: N store variants against the sandbox store's Admin GraphQL.

    python -m bench.inventory_sync --variants 10000 --plan standard

Runs `dropguard serve` with the sandbox mounted, on a fresh database (the machine's PostgreSQL and
Redis when DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL are set, else the embedded ones). The
store emulator's leaky bucket is sized like the chosen Shopify plan (restore rate 100/200/1000
points per second; bucket 20 times that). Phases, each timed, with the GraphQL cost the emulator
charged and the calls made against the fewest calls the limits allow (1,000 points per query,
250 quantities per mutation):
  catalogue   read every inventory item with its variant, price and quantity
  full sync   every variant's supplier stock changes; set all quantities
  steady      5 % of the variants change; set those (sync lag per item from the ledger times)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.embedded import free_port
from app.embedded import start as start_embedded

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results"
PLANS = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0}
STOCK_BATCH = 500


def _usage(base: str, shop: str) -> dict[str, Any]:
    return httpx.get(f"{base}/sandbox/shopify/_control/usage", params={"shop": shop}, timeout=120).json()


def _phase(name: str, started: float, before: dict[str, Any], after: dict[str, Any], fewest: int,
           report: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    calls = after["calls"] - before["calls"]
    result = {
        "phase": name, "wall_s": round(time.monotonic() - started, 2), "calls": calls, "fewest_calls": fewest,
        "calls_ratio": round(calls / fewest, 3) if fewest else None,
        "cost_actual": after["actual"] - before["actual"], "cost_requested": after["requested"] - before["requested"],
        "throttled": after["throttled"] - before["throttled"], "report": report.as_data(), **(extra or {}),
    }
    print(f"  {name:<10} {result['wall_s']:>8.1f} s  calls {calls:>4} (fewest {fewest:>4}, ratio "
          f"{result['calls_ratio']})  cost {result['cost_actual']:>6} actual / {result['cost_requested']:>6} "
          f"requested  throttled {result['throttled']}", flush=True)
    return result


def _stock_all(shop_id: int, supplier_id: int, skus: list[str], quantity: int) -> None:
    from app.db import get_sessionmaker
    from app.inventory import service
    from app.suppliers.models import Supplier

    maker = get_sessionmaker()
    for start in range(0, len(skus), STOCK_BATCH):
        with maker() as session:
            supplier = session.get(Supplier, supplier_id)
            service.apply_supplier_levels(
                session, supplier, [service.Level("SUP-" + sku, quantity, Decimal("4.00"))
                                    for sku in skus[start:start + STOCK_BATCH]])
            # The benchmark publishes itself, in-process: no worker reads these outbox rows.
            session.execute(text("DELETE FROM outbox WHERE task_name = 'inventory.publish'"))
            session.commit()


def run(args: argparse.Namespace, base: str) -> dict[str, Any]:
    from sqlalchemy import insert, select

    from app.db import get_sessionmaker
    from app.inventory import publish
    from app.inventory.models import InventoryItem
    from app.shops.service import add_shop
    from app.suppliers.models import Supplier
    from app.suppliers.tables import VariantMapping

    domain, token = f"bench-inv-{uuid.uuid4().hex[:8]}.myshopify.com", "shpat_" + uuid.uuid4().hex
    maker = get_sessionmaker()
    with maker() as session:
        shop = add_shop(session, domain=domain, access_token=token)
        session.commit()
        shop_id = shop.id
        supplier_id = session.scalar(select(Supplier.id).where(Supplier.shop_id == shop_id, Supplier.is_default))
    httpx.post(f"{base}/sandbox/shopify/_control/shops", json={"domain": domain, "access_token": token},
               timeout=10).raise_for_status()
    rate = PLANS[args.plan]
    httpx.post(f"{base}/sandbox/shopify/_control/throttle", timeout=10, json={
        "shop": domain, "maximum_available": rate * 20, "restore_rate": rate, "currently_available": rate * 20,
    }).raise_for_status()
    created = httpx.post(f"{base}/sandbox/shopify/_control/inventory", timeout=300, json={
        "shop": domain, "generate": {"count": args.variants, "price": "10.00", "available": 10}}).json()["items"]
    with maker() as session:
        rows = [{"shop_id": shop_id, "supplier_id": supplier_id, "match_key": f"v:{i['variant_id']}",
                 "variant_id": i["variant_id"], "sku": i["sku"], "supplier_sku": "SUP-" + i["sku"], "priority": 1,
                 "unit_cost": Decimal("4.00"), "currency": "USD"} for i in created]
        for start in range(0, len(rows), 2000):
            session.execute(insert(VariantMapping).values(rows[start:start + 2000]))
        session.commit()
    skus = [i["sku"] for i in created]
    print(f"bench: {args.variants} variants, plan {args.plan} (bucket {rate * 20:.0f}, restore {rate:.0f}/s)",
          flush=True)
    phases = []

    before, started = _usage(base, domain), time.monotonic()
    report = publish.refresh_catalogue(shop_id)
    phases.append(_phase("catalogue", started, before, _usage(base, domain),
                         1 + math.ceil(args.variants / publish.CATALOGUE_PAGE), report))

    started = time.monotonic()
    _stock_all(shop_id, supplier_id, skus, 25)
    stock_s = time.monotonic() - started
    before, started = _usage(base, domain), time.monotonic()
    report = publish.publish(shop_id)
    phases.append(_phase("full sync", started, before, _usage(base, domain),
                         math.ceil(args.variants / publish.MAX_QUANTITIES), report,
                         {"stock_messages_s": round(stock_s, 2)}))

    changed = skus[:: 20]
    started = time.monotonic()
    _stock_all(shop_id, supplier_id, changed, 17)
    before, started_publish = _usage(base, domain), time.monotonic()
    report = publish.publish(shop_id)
    with maker() as session:
        lags = [lag / 1000 for lag in session.scalars(
            select(InventoryItem.last_lag_ms).where(InventoryItem.shop_id == shop_id, InventoryItem.sku.in_(changed)))]
    phases.append(_phase("steady", started_publish, before, _usage(base, domain),
                         math.ceil(len(changed) / publish.MAX_QUANTITIES), report,
                         {"changed": len(changed), "lag_p50_s": round(statistics.median(lags), 2),
                          "lag_max_s": round(max(lags), 2)}))
    levels = httpx.get(f"{base}/sandbox/shopify/_control/inventory", params={"shop": domain}, timeout=120).json()
    wrong = sum(1 for level in levels["levels"] if level["available"] != (17 if level["sku"] in set(changed) else 25))
    print(f"store quantities wrong after the run: {wrong}")
    return {"variants": args.variants, "plan": args.plan, "phases": phases, "wrong_quantities": wrong}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--plan", choices=sorted(PLANS), default="standard")
    args = parser.parse_args()
    embedded = None
    database_url, redis_url = os.environ.get("DROPGUARD_DATABASE_URL"), os.environ.get("DROPGUARD_REDIS_URL")
    if not (database_url and redis_url):
        embedded = start_embedded(ROOT / ".dropguard" / "bench", database="postgres")
        database_url, redis_url = embedded.database_url, embedded.redis_url
    run_id = uuid.uuid4().hex[:8]
    server_url = make_url(database_url).set(drivername="postgresql+psycopg")
    bench_db = f"dropguard_bench_inv_{run_id}"
    admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    prefix, port = f"dgbench-inv-{run_id}:", free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ.update({
        "DROPGUARD_DATABASE_URL": server_url.set(database=bench_db).render_as_string(hide_password=False),
        "DROPGUARD_REDIS_URL": redis_url, "DROPGUARD_REDIS_PREFIX": prefix,
        "DROPGUARD_SHOPIFY_API_KEY": "bench-api-key", "DROPGUARD_SHOPIFY_API_SECRET": "bench-api-secret",
        "DROPGUARD_SECRET_KEY": "bench-secret-key-0123456789", "DROPGUARD_SANDBOX": "true",
        "DROPGUARD_PUBLIC_URL": base, "DROPGUARD_SHOPIFY_ADMIN_URL": f"{base}/sandbox/shopify/{{shop}}",
        "DROPGUARD_LOG_LEVEL": "WARNING", "DROPGUARD_WORKER_METRICS_PORT": "0",
    })
    RESULTS.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{bench_db}"'))
        from app.migrate import upgrade_to_head

        upgrade_to_head()
        log = (RESULTS / f"inventory-sync-{run_id}.server.log").open("w")
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: the server did not start (see its log in bench/results)")
            time.sleep(0.3)
        record = {"when": datetime.now(UTC).isoformat(), **run(args, base)}
        out = RESULTS / f"inventory-sync-{run_id}.json"
        out.write_text(json.dumps(record, indent=2))
        print(f"details: {out.relative_to(ROOT)}")
        return 1 if record["wrong_quantities"] or any(p["throttled"] for p in record["phases"]) else 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        from app.db import reset_engine

        reset_engine()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'))
        admin.dispose()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
