"""Risk benchmark: scoring on the paid path and training on a large shop, with baselines.

    python -m bench.risk --orders 100000 --scores 2000

A dedicated database is created (and dropped afterwards) on the machine's PostgreSQL and Redis
(DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL, else the embedded ones), migrated, and filled by
bench/risk/data.py with one shop's year of orders, their risk signals and outcome facts.

- Training: `app.risk.training.train` end to end (collect outcome facts, load the history, the
  time-ordered sweep, the forward calibration, the final fit, the evaluation, the history counts),
  against a baseline in the same run: scikit-learn's LogisticRegression fitted once on the very
  same training matrix (the library's own cost, the floor of any training).
- Scoring: `app.risk.service.score_order` as the paid path calls it (features, the learned model,
  reasons, the stored score, its ledger event, its risk card's outbox row), one order at a time,
  each in its own transaction, on orders not scored before; against a baseline in the same
  transactions: one upsert of a constant score row (the floor of keeping any score).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import text

from bench.ingest import RESULTS, ROOT
from bench.risk import data
from bench.scratch import ScratchDatabase


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_percentile(values, 0.50), 3), "p95_ms": round(_percentile(values, 0.95), 3),
            "p99_ms": round(_percentile(values, 0.99), 3), "mean_ms": round(statistics.fmean(values), 3)}


def main() -> int:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--scores", type=int, default=2000, help="paid-path scores measured")
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()

    scratch = ScratchDatabase("risk")
    run_id = scratch.run_id
    os.environ.update(scratch.env())
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        scratch.create()
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from sqlalchemy import select
        from sqlalchemy.dialects.postgresql import insert

        import app.models  # noqa: F401 - every mapper configured
        from app.config import get_settings
        from app.db import get_engine, get_sessionmaker, utcnow
        from app.migrate import upgrade_to_head
        from app.orders.models import Order
        from app.risk import history, service, training
        from app.risk.features import sweep
        from app.risk.models import RiskScore
        from app.shops.models import Shop
        from app.shops.service import add_shop

        upgrade_to_head()
        maker = get_sessionmaker()
        with maker() as session:
            shop = add_shop(session, domain=f"bench-risk-{run_id}.myshopify.com", access_token="shpat_bench")
            shop.scopes = get_settings().shopify_scopes  # cards are written, as for an OAuth install
            session.commit()
            shop_id = shop.id
        started = time.monotonic()
        with get_engine().begin() as connection:
            data.load(connection, shop_id=shop_id, orders=args.orders)
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            counts = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                      for table in ("orders", "order_lines", "risk_signals", "risk_outcomes")}
        print(f"bench: loaded {counts} in {time.monotonic() - started:.0f} s", flush=True)

        # -- training ---------------------------------------------------------------------------
        now = utcnow()
        with maker() as session:
            begun = time.perf_counter()
            report = training.train(session, session.get(Shop, shop_id), now=now)
            session.commit()
            train_seconds = time.perf_counter() - begun
        with maker() as session:
            orders = history.load(session, shop_id)
            known = history.shop_outcomes(session, shop_id)
        landmarks = {o.order_id: [o.placed_at] for o in orders}
        features, _ = sweep(orders, known, landmarks=landmarks)
        matrix = np.asarray([features[(o.order_id, o.placed_at)][0] for o in orders])
        labels = np.asarray([int(o.order_id in known) for o in orders])
        begun = time.perf_counter()
        LogisticRegression(max_iter=2000).fit((matrix - matrix.mean(0)) / (matrix.std(0) + 1e-9), labels)
        baseline_fit_seconds = time.perf_counter() - begun
        evaluation = report.evaluation
        print(f"training: {train_seconds:.1f} s for {args.orders} orders ({report.status} {report.version}); "
              f"baseline LogisticRegression.fit on {len(labels)} rows: {baseline_fit_seconds:.2f} s; "
              f"ratio {train_seconds / baseline_fit_seconds:.1f}", flush=True)
        if evaluation:
            print(f"  held-out: learned AUC {evaluation['learned']['auc']} Brier {evaluation['learned']['brier']}, "
                  f"rules AUC {evaluation['rules']['auc']} Brier {evaluation['rules']['brier']}, "
                  f"base-rate Brier {evaluation['base_rate_brier']}")

        # -- scoring on the paid path ------------------------------------------------------------
        with maker() as session:
            ids = list(session.scalars(select(Order.id).where(Order.shop_id == shop_id).order_by(Order.id.desc())
                                       .limit(args.scores + args.warmup)))
        timings: dict[str, list[float]] = {"score_order": [], "baseline": []}
        profiler = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profiler = cProfile.Profile()
        for index, order_id in enumerate(ids):
            with maker() as session:
                order = session.get(Order, order_id)
                session.get(Shop, shop_id)  # the paid path has the shop loaded already (ordering.plan)
                if profiler:
                    profiler.enable()
                begun = time.perf_counter()
                score = service.score_order(session, order, trigger="paid")
                scored = (time.perf_counter() - begun) * 1000
                if profiler:
                    profiler.disable()
                session.commit()
                begun = time.perf_counter()
                statement = insert(RiskScore).values(
                    order_id=order_id, shop_id=shop_id, probability=0.1, level="low", reasons=[], features={},
                    model_kind="rules", model_version="baseline", trigger="baseline", digest="0" * 64,
                    scored_at=utcnow())
                session.execute(statement.on_conflict_do_update(
                    index_elements=[RiskScore.order_id], set_={"probability": 0.1, "scored_at": utcnow()}))
                session.flush()
                floor = (time.perf_counter() - begun) * 1000
                session.rollback()
            if score is None:
                raise SystemExit(f"bench: order {order_id} has no risk signals")
            if index >= args.warmup:
                timings["score_order"].append(scored)
                timings["baseline"].append(floor)
        if profiler:
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        summary = {name: _summary(values) for name, values in timings.items()}
        print(f"\n{'target':>12}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'mean ms':>7}   ({args.scores} scores)")
        for name, figures in summary.items():
            print(f"{name:>12}  {figures['p50_ms']:7.2f}  {figures['p95_ms']:7.2f}  {figures['p99_ms']:7.2f}"
                  f"  {figures['mean_ms']:7.2f}")
        ratio = summary["score_order"]["p50_ms"] / summary["baseline"]["p50_ms"]
        met_score = summary["score_order"]["p95_ms"] < 10
        met_train = train_seconds < 60
        print(f"median ratio score_order / baseline: {ratio:.1f}; "
              f"paid-path p95 < 10 ms: {'met' if met_score else 'NOT met'}; "
              f"training < 60 s: {'met' if met_train else 'NOT met'}")
        record = {"when": datetime.now(UTC).isoformat(), "args": vars(args), "counts": counts,
                  "train_seconds": round(train_seconds, 2), "baseline_fit_seconds": round(baseline_fit_seconds, 3),
                  "train_status": report.status, "evaluation": {k: evaluation.get(k) for k in
                                                                 ("learned", "rules", "base_rate_brier", "examples")},
                  "scoring": summary, "median_ratio": round(ratio, 2)}
        out = RESULTS / f"risk-{run_id}.json"
        out.write_text(json.dumps(record, indent=2, default=str))
        print(f"details: {out.relative_to(ROOT)}")
        return 0 if met_score and met_train else 1
    finally:
        from app.db import reset_engine

        reset_engine()
        scratch.drop()


if __name__ == "__main__":
    raise SystemExit(main())
