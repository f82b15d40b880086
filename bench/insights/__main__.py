"""Insights benchmark: the read-model queries behind every insights page, and the classifier.

    python -m bench.insights --orders 100000 --events 1000000 --repeat 100

Then the rendered pages themselves (HTML and charts, through the whole app) against the app's
health check on the same client.

A dedicated database is created (and dropped afterwards), migrated, and filled by the status-page
bench's loader (orders, lines, addresses, supplier orders, shipments, 1 M ledger events) plus
bench/insights/data.py (suppliers, destinations, timings, deliveries, disputes, claims, messages),
all in ONE shop (the worst case: every page query reads that shop's aggregates). The insight facts
and aggregates are then built by the real per-order refresh, in two processes, which also gives the
analytics queue's throughput. Each query is then timed `--repeat` times in turn with a baseline
query (the shop's row by primary key) on the same connection, and the classifier on the shipped
set's held-out messages against the cost of its text folding alone.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from bench.ingest import RESULTS, ROOT
from bench.insights import data as insights_data
from bench.insights.refresh import refresh_slice
from bench.scratch import ScratchDatabase
from bench.status_page import data as base_data

TARGET_MS = 300.0
CLASSIFIER_TARGET_MS = 5.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_percentile(values, 0.5), 2), "p95_ms": round(_percentile(values, 0.95), 2),
            "mean_ms": round(statistics.fmean(values), 2)}


def _by_dimension(session, *, dimension: str, shop_id: int):
    from app.insights import analytics

    return analytics.by_dimension(session, shop_id, dimension)


def _queries(shop_id: int):
    from app.insights import advice, analytics, messages, queries, scorecards
    from app.insights.queries import Filters

    def shop(session):
        from app.shops.models import Shop

        return session.get(Shop, shop_id, populate_existing=True)

    return {
        "scorecards by supplier (flags citing orders)": lambda s: scorecards.scorecards(s, shop_id),
        "scorecards by supplier x destination": lambda s: scorecards.scorecards(s, shop_id, by_destination=True),
        "supplier trend by month": lambda s: scorecards.trend(s, shop_id),
        **{f"refunds & disputes by {d}": functools.partial(_by_dimension, dimension=d, shop_id=shop_id)
           for d in analytics.DIMENSIONS},
        "notification effect": lambda s: analytics.notification_effect(s, shop_id),
        "complaints by reason and supplier": lambda s: analytics.complaints(s, shop_id, by="supplier"),
        "policy advice (all recommendations)": lambda s: advice.recommendations(s, shop(s)),
        "drill-down: disputed orders": lambda s: queries.drill(s, shop_id, Filters(), outcome="dispute"),
        "drill-down: late orders of one supplier": lambda s: queries.drill(
            s, shop_id, Filters(supplier_id=s.scalar(text("SELECT min(id) FROM suppliers"))), outcome="late"),
        "complaints list (urgent first page)": lambda s: messages.recent(s, shop_id, urgent_only=True),
    }


def _time_queries(url: str, shop_id: int, repeat: int) -> dict[str, dict]:
    os.environ["DROPGUARD_DATABASE_URL"] = url
    from app.db import get_sessionmaker, reset_engine

    reset_engine()
    results: dict[str, dict] = {}
    with get_sessionmaker()() as session:
        for name, run in _queries(shop_id).items():
            run(session)  # warm the plan and the cache once
            project, baseline = [], []
            for _ in range(repeat):
                begun = time.perf_counter()
                run(session)
                project.append((time.perf_counter() - begun) * 1000)
                session.rollback()
                begun = time.perf_counter()
                session.execute(text("SELECT id, domain, settings FROM shops WHERE id = :id"), {"id": shop_id}).all()
                baseline.append((time.perf_counter() - begun) * 1000)
                session.rollback()
            results[name] = {"project": _summary(project), "baseline": _summary(baseline)}
    return results


# The rendered pages (app/insights/pages.py, app/risk/pages.py): the whole request through the
# app, HTML and charts included, against the app's own health check on the same client.
PAGES = {
    "page: supplier scorecards": "/admin/insights",
    "page: scorecards by lane": "/admin/insights?by=destination",
    "page: refunds & disputes by supplier": "/admin/insights/refunds",
    "page: refunds & disputes by product": "/admin/insights/refunds?dimension=product",
    "page: refunds & disputes by reason": "/admin/insights/refunds?dimension=reason",
    "page: drill-down (disputed orders)": "/admin/insights/orders?outcome=dispute",
    "page: refund-policy advice": "/admin/insights/policy",
    "page: complaints": "/admin/insights/complaints",
    "page: risk model": "/admin/risk",
    "page: scorecards CSV": "/admin/insights?format=csv&table=scorecards",
}


def _time_pages(url: str, domain: str, repeat: int) -> dict[str, dict]:
    os.environ["DROPGUARD_DATABASE_URL"] = url
    from fastapi.testclient import TestClient

    from app.config import get_settings
    from app.db import reset_engine
    from app.main import create_app
    from app.sandbox.tokens import mint_session_token

    get_settings.cache_clear()
    reset_engine()
    results: dict[str, dict] = {}
    with TestClient(create_app(start_relay=False)) as client:
        for name, path in PAGES.items():
            def get(path=path):
                token = mint_session_token(domain)
                response = client.get(path + ("&" if "?" in path else "?") + f"id_token={token}")
                if response.status_code != 200:
                    raise SystemExit(f"bench: {path} answered {response.status_code}: {response.text[:300]}")
                return response

            get()
            project, baseline = [], []
            for _ in range(repeat):
                begun = time.perf_counter()
                get()
                project.append((time.perf_counter() - begun) * 1000)
                begun = time.perf_counter()
                client.get("/healthz")
                baseline.append((time.perf_counter() - begun) * 1000)
            results[name] = {"project": _summary(project), "baseline": _summary(baseline)}
    return results


def _time_classifier() -> dict[str, dict]:
    from app.insights import classifier, dataset

    model = classifier.base_model()
    texts = [e.text for e in dataset.held_out_part()] * 3
    project, baseline = [], []
    for text_ in texts:
        begun = time.perf_counter()
        model.classify(text_)
        project.append((time.perf_counter() - begun) * 1000)
        begun = time.perf_counter()
        classifier.folded(text_)
        baseline.append((time.perf_counter() - begun) * 1000)
    return {"classifier per message": {"project": _summary(project), "baseline": _summary(baseline),
                                       "messages": len(texts)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2, help="refresh processes building the aggregates")
    args = parser.parse_args()

    scratch = ScratchDatabase("insights")
    run_id, bench_url = scratch.run_id, scratch.url
    env = {**os.environ, **scratch.env()}
    os.environ.update(scratch.env())
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        scratch.create()
        py = sys.executable
        for argv in (["migrate"], ["shops", "add", "bench-insights.myshopify.com", "--access-token", "shpat_bench"]):
            done = subprocess.run([py, "-m", "app.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"bench: dropguard {argv[0]} failed: {done.stderr.strip()[-2000:]}")
        engine = create_engine(bench_url)
        started = time.monotonic()
        with engine.begin() as connection:
            shop_id, supplier_id = connection.execute(text(
                "SELECT s.id, (SELECT min(p.id) FROM suppliers p WHERE p.shop_id = s.id) FROM shops s")).one()
            base_data.load(connection, shop_ids=[shop_id], supplier_ids=[supplier_id], orders=args.orders,
                           events=args.events)
            insights_data.load(connection)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                      for t in ("orders", "shipments", "evidence_events", "disputes", "resolutions", "customer_messages")}
            ids = list(connection.scalars(text("SELECT id FROM orders ORDER BY id")))
        print(f"bench: loaded {counts} in {time.monotonic() - started:.0f} s", flush=True)

        started = time.monotonic()
        slices = [(ids[i::args.processes], bench_url) for i in range(args.processes)]
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            pool.map(refresh_slice, slices)
        refresh_seconds = time.monotonic() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            aggregate_rows = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                              for t in ("insights_order_facts", "insights_aggregates", "insights_breakdowns")}
        print(f"bench: refreshed {len(ids)} orders in {refresh_seconds:.0f} s "
              f"({len(ids) / refresh_seconds:.0f} orders/s with {args.processes} processes); {aggregate_rows}",
              flush=True)

        results = _time_queries(bench_url, shop_id, args.repeat)
        results.update(_time_pages(bench_url, "bench-insights.myshopify.com", args.repeat))
        results.update(_time_classifier())
        print()
        print(f"{'query':<48} {'p50 ms':>8} {'p95 ms':>8} {'baseline p50':>13} {'ratio p50':>10}")
        met = True
        for name, figures in results.items():
            project, baseline = figures["project"], figures["baseline"]
            target = CLASSIFIER_TARGET_MS if name.startswith("classifier") else TARGET_MS
            met &= project["p95_ms"] < target
            ratio = project["p50_ms"] / baseline["p50_ms"] if baseline["p50_ms"] else float("inf")
            print(f"{name:<48} {project['p50_ms']:8.2f} {project['p95_ms']:8.2f} {baseline['p50_ms']:13.3f}"
                  f" {ratio:10.0f}")
        print(f"targets (pages p95 < {TARGET_MS:.0f} ms, classifier p95 < {CLASSIFIER_TARGET_MS:.0f} ms): "
              f"{'met' if met else 'NOT met'}")
        record = {"when": datetime.now(UTC).isoformat(), "args": vars(args), "counts": counts,
                  "refresh_seconds": round(refresh_seconds, 1), "aggregate_rows": aggregate_rows, "results": results}
        out = RESULTS / f"insights-{run_id}.json"
        out.write_text(json.dumps(record, indent=2))
        print(f"details: {out.relative_to(ROOT)}")
        return 0 if met else 1
    finally:
        scratch.drop()


if __name__ == "__main__":
    raise SystemExit(main())
