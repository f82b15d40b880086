"""Status page benchmark: server time of GET /status/{token} on a large database, with a baseline.

    python -m bench.status_page --orders 100000 --events 1000000 --requests 2000

A dedicated database is created (and dropped afterwards) on the machine's PostgreSQL and Redis
(DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL, else the embedded ones), migrated, and filled by
bench/status_page/data.py. Two servers run with the same uvicorn setup: the project
(`dropguard serve`: token check, order, lines, address, shipments, the order's ledger events ->
timeline, estimate, resolutions, and the view recorded as evidence) and the baseline
(bench/status_page/baseline.py: one SELECT of the order row and a trivial template). Requests go
one at a time over a kept-alive loopback connection to orders picked at random (each order once,
so every request also appends its view to the ledger), alternating project and baseline. The
latency measured at the client is the server time plus loopback (a fraction of a millisecond).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import create_engine, text

from bench.ingest import RESULTS, ROOT, Server, free_port
from bench.scratch import ScratchDatabase
from bench.status_page import data


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_percentile(values, 0.50), 2), "p95_ms": round(_percentile(values, 0.95), 2),
            "p99_ms": round(_percentile(values, 0.99), 2), "mean_ms": round(statistics.fmean(values), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    if not (1 <= args.shops <= 100 and args.shops <= args.orders and args.requests + args.warmup <= args.orders):
        parser.error("need 1..100 shops, and orders >= requests + warmup")

    scratch = ScratchDatabase("status")
    run_id, bench_url = scratch.run_id, scratch.url
    project_port, baseline_port = free_port(), free_port()
    env = {**os.environ, **scratch.env(DROPGUARD_PUBLIC_URL=f"http://127.0.0.1:{project_port}"),
           "BENCH_DATABASE_URL": bench_url}
    os.environ.update({k: v for k, v in env.items() if k.startswith("DROPGUARD_")})
    RESULTS.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    try:
        scratch.create()
        py = sys.executable
        shops = [f"bench-status-{n}.myshopify.com" for n in range(args.shops)]
        for argv in [["migrate"], *(["shops", "add", shop, "--access-token", "shpat_bench"] for shop in shops)]:
            done = subprocess.run([py, "-m", "app.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"bench: dropguard {argv[0]} failed: {done.stderr.strip()[-2000:]}")
        engine = create_engine(bench_url)
        started = time.monotonic()
        with engine.begin() as connection:
            ids = connection.execute(text(
                "SELECT s.id, (SELECT min(p.id) FROM suppliers p WHERE p.shop_id = s.id) FROM shops s ORDER BY s.id"
            )).all()
            data.load(connection, shop_ids=[r[0] for r in ids], supplier_ids=[r[1] for r in ids],
                      orders=args.orders, events=args.events)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            counts = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                      for table in ("orders", "order_lines", "shipments", "evidence_events")}
            order_rows = connection.execute(text(
                "SELECT id, shop_id FROM orders WHERE external_id >= 5000000000")).all()
        load_seconds = time.monotonic() - started
        print(f"bench: loaded {counts} in {load_seconds:.0f} s", flush=True)

        project = Server("status-project", [py, "-m", "app.cli", "serve", "--port", str(project_port)],
                         env, project_port, RESULTS)
        baseline = Server("status-baseline", [py, "-m", "uvicorn", "bench.status_page.baseline:create_app",
                                              "--factory", "--host", "127.0.0.1", "--port", str(baseline_port),
                                              "--log-level", "warning", "--no-access-log"],
                          env, baseline_port, RESULTS)
        servers = [project, baseline]
        project.wait_ready("/healthz")
        baseline.wait_ready("/docs")

        from app.status.tokens import make_token  # reads DROPGUARD_SECRET_KEY set above

        random.seed(run_id)
        sample = random.sample(order_rows, args.requests + args.warmup)
        timings: dict[str, list[float]] = {"project": [], "baseline": []}
        with httpx.Client(timeout=30) as client:
            for index, (order_id, shop_id) in enumerate(sample):
                for name, url in (
                    ("project", f"http://127.0.0.1:{project_port}/status/{make_token(order_id, shop_id)}"),
                    ("baseline", f"http://127.0.0.1:{baseline_port}/baseline/{order_id}"),
                ):
                    begun = time.perf_counter()
                    response = client.get(url, headers={"User-Agent": f"bench-{index}"})
                    elapsed = (time.perf_counter() - begun) * 1000
                    if response.status_code != 200:
                        raise SystemExit(f"bench: {name} answered {response.status_code} for order {order_id}")
                    if index >= args.warmup:
                        timings[name].append(elapsed)
        with engine.connect() as connection:
            views = connection.execute(text(
                "SELECT count(*) FROM evidence_events WHERE kind = 'status_page.viewed' AND source = 'customer'"
            )).scalar_one()
        summary = {name: _summary(values) for name, values in timings.items()}
        print()
        print(f"{'target':>9}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'mean ms':>7}   ({args.requests} requests each)")
        for name, figures in summary.items():
            print(f"{name:>9}  {figures['p50_ms']:7.2f}  {figures['p95_ms']:7.2f}  {figures['p99_ms']:7.2f}"
                  f"  {figures['mean_ms']:7.2f}")
        print(f"project p95 target < 50 ms: {'met' if summary['project']['p95_ms'] < 50 else 'NOT met'}; "
              f"{views} views recorded as evidence")
        record = {"when": datetime.now(UTC).isoformat(), "args": vars(args), "counts": counts,
                  "load_seconds": round(load_seconds, 1), "summary": summary, "views_recorded": views}
        out = RESULTS / f"status-page-{run_id}.json"
        out.write_text(json.dumps(record, indent=2))
        print(f"details: {out.relative_to(ROOT)}")
        return 0 if summary["project"]["p95_ms"] < 50 else 1
    finally:
        for server in servers:
            server.stop()
        scratch.drop()


if __name__ == "__main__":
    raise SystemExit(main())
