"""Whole-pipeline benchmark: open-loop paid orders through the sandbox store, step by step.

    python -m bench.pipeline --rates 2,5,10 --step-seconds 15            (this tree)
    python -m bench.pipeline --code /tmp/base --code .                   (a baseline tree, then this one)

Each code tree runs as real processes on a fresh database and Redis prefix (bench/scratch.py): the
sandbox (store, supplier, mail catcher) in a process of its own, `dropguard serve`, one or more
`dropguard worker` (--worker QUEUES:CONCURRENCY, repeatable) and beat. Paid orders are spread over
--shops shops, each with its own default supplier (the supplier rate limit, 5 calls/s, caps one
supplier). At each rate the orders leave on a fixed schedule whatever the answers (open loop); then
the bench waits up to --drain-seconds for every order to be placed.

Per step it reports, from the ledger (evidence_events.recorded_at against the moment the store
order was paid): paid -> supplier order placed, supplier shipped -> store fulfilment, paid ->
first e-mail sent (p50/p99); the backlog (orders paid but not placed, Celery queue lengths,
undispatched outbox rows) sampled each second; CPU seconds per order of each process kind (the
sandbox's reported apart, it is not Dropguard's cost); outbox tasks and database transactions per
order (per order that reached its store fulfilment within the step and its drain, so unfinished
work never makes an order look cheaper). A step is sustained when its orders were all placed within the drain time and the unplaced
backlog at the step's end held at most 5 s of arrivals. PostgreSQL's and Redis's own CPU is not
counted: on a shared machine it cannot be told apart from other users'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import httpx
import redis
from sqlalchemy import create_engine, text

from app.embedded import free_port
from app.runner import _die_with_parent as die_with_parent
from bench.scratch import ScratchDatabase

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results"
QUEUES = ("ingest", "suppliers", "store", "notifications", "analytics", "maintenance")
BOUNDED_SECONDS = 5.0
MAX_IN_FLIGHT = 64


@dataclass
class Proc:
    kind: str
    proc: subprocess.Popen
    log: object

    def cpu(self) -> float:
        """User + system CPU seconds of the process and all its children (pool processes)."""
        import psutil  # only where the bench starts the processes (not in the compose container)

        try:
            root = psutil.Process(self.proc.pid)
            total = 0.0
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            return total
        except psutil.NoSuchProcess:
            return 0.0


@dataclass
class Sent:
    store_id: int
    shop: str
    paid_at: float  # wall clock: the ledger's recorded_at is compared with it


@dataclass
class Step:
    rate: float
    sent: list[Sent] = field(default_factory=list)
    failed: int = 0
    samples: list[dict] = field(default_factory=list)


class ExternalDeployment:
    """The database and Redis of a running deployment (--web-url): read from DROPGUARD_* settings;
    nothing created or dropped (its shops are new ones, named by this run)."""

    def __init__(self) -> None:
        self.url = os.environ["DROPGUARD_DATABASE_URL"]
        self.redis_url = os.environ["DROPGUARD_REDIS_URL"]
        self.prefix = os.environ.get("DROPGUARD_REDIS_PREFIX", "dropguard:")
        self.run_id = uuid.uuid4().hex[:8]


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class Pipeline:
    def __init__(self, args: argparse.Namespace, code: Path, label: str) -> None:
        self.args, self.code, self.label = args, code, label
        self.external = bool(args.web_url)
        self.scratch = ExternalDeployment() if self.external else ScratchDatabase("pipeline")
        self.web_port, self.sandbox_port, self.smtp_port = free_port(), free_port(), free_port()
        self.web = (args.web_url or f"http://127.0.0.1:{self.web_port}").rstrip("/")
        self.sandbox = (args.sandbox_url or (
            f"{self.web}/sandbox" if args.sandbox_in_web else f"http://127.0.0.1:{self.sandbox_port}/sandbox"
        )).rstrip("/")
        self.env = {**os.environ} if self.external else {
            **{k: v for k, v in os.environ.items() if not k.startswith("DROPGUARD_")},
            **self.scratch.env(
                DROPGUARD_SANDBOX="true", DROPGUARD_PUBLIC_URL=self.web,
                DROPGUARD_SHOPIFY_ADMIN_URL=self.sandbox + "/shopify/{shop}",
                DROPGUARD_SUPPLIER_API_URL=self.sandbox + "/supplier",
                DROPGUARD_SMTP_HOST="127.0.0.1", DROPGUARD_SMTP_PORT=str(self.smtp_port),
                DROPGUARD_WORKER_METRICS_PORT="0", DROPGUARD_LOG_JSON="false",
                **({} if args.sandbox_in_web else {"DROPGUARD_SANDBOX_URL": self.sandbox}),
            ),
            "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1",
        }
        self.procs: list[Proc] = []
        self.log_dir = RESULTS / f"pipeline-{self.scratch.run_id}-{label}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.shops: list[tuple[str, int]] = []
        self.engine = create_engine(self.scratch.url, pool_size=2)
        self.redis = redis.Redis.from_url(self.scratch.redis_url)

    # -- processes --------------------------------------------------------------------------
    def spawn(self, kind: str, *argv: str) -> None:
        log = (self.log_dir / f"{kind}-{len(self.procs)}.log").open("wb")
        module, env = "app.cli", self.env
        if kind == "worker" and self.args.profile:
            # The wrapper is this tree's (bench/), the worker's code the tree under test.
            module, env = "bench.pipeline.profiled_worker", {
                **self.env, "PYTHONPATH": f"{self.code}{os.pathsep}{ROOT}", "DROPGUARD_BENCH_PROFILE_DIR": str(self.log_dir)}
        proc = subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [sys.executable, "-m", module, *argv], cwd=self.code, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent,  # a bench killed outright takes its processes with it
        )
        self.procs.append(Proc(kind, proc, log))

    def wait_ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.proc.poll() is not None:
                    raise SystemExit(f"bench: {p.kind} exited with {p.proc.returncode}; see {self.log_dir}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"bench: {url} did not answer within {timeout:.0f} s")

    def migrate(self) -> None:
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "app.cli", "migrate"], cwd=self.code, env=self.env, check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        if self.external:  # a running deployment (docker compose --profile bench): nothing to start
            self.wait_ready(f"{self.web}/healthz", timeout=120)
            self.wait_ready(f"{self.sandbox}/_control/ping", timeout=120)
            return
        self.scratch.create()
        self.migrate()
        if not self.args.sandbox_in_web:
            self.spawn("sandbox", "sandbox", "--port", str(self.sandbox_port))
            self.wait_ready(f"{self.sandbox}/_control/ping")
        self.spawn("web", "serve", "--port", str(self.web_port), "--workers", str(self.args.web_workers))
        for spec in self.args.worker:
            queues, _, concurrency = spec.partition(":")
            argv = ["worker", "--concurrency", concurrency or "2"]
            if queues and queues != "all":
                argv += ["--queues", queues]
            self.spawn("worker", *argv)
        self.spawn("beat", "beat")
        self.wait_ready(f"{self.web}/healthz")
        self.wait_ready(f"{self.sandbox}/_control/ping")

    def stop(self) -> None:
        if self.external:
            self.engine.dispose()
            return
        for p in self.procs:
            if p.proc.poll() is None:
                p.proc.terminate()  # the worker finishes its running tasks, then its pool
        for p in self.procs:
            try:
                p.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.proc.pid, 9)  # whatever is left of its group (pool processes)
            p.log.close()
        self.engine.dispose()
        self.scratch.drop()

    # -- set-up -----------------------------------------------------------------------------
    def add_shops(self) -> None:
        """Shops here and in the store emulator, with the same token; each gets its own default
        supplier (created with the shop), so placements spread over --shops suppliers."""
        with httpx.Client(timeout=30) as client:
            for n in range(self.args.shops):
                domain = f"bench-{self.scratch.run_id}-{n}.myshopify.com"
                token = "shpat_" + uuid.uuid4().hex
                subprocess.run(  # noqa: S603 - the code tree's own CLI, so its models and defaults
                    [sys.executable, "-m", "app.cli", "shops", "add", domain, "--access-token", token],
                    cwd=self.code, env=self.env, check=True, stdout=subprocess.DEVNULL,
                )
                client.post(f"{self.sandbox}/shopify/_control/shops",
                            json={"domain": domain, "access_token": token}).raise_for_status()
                with self.engine.connect() as connection:
                    shop_id = connection.execute(text("SELECT id FROM shops WHERE domain = :d"), {"d": domain}).scalar()
                self.shops.append((domain, shop_id))
            client.post(f"{self.sandbox}/supplier/_control/behaviour", json={
                "confirm_after_s": self.args.confirm_after, "ship_after_s": self.args.ship_after,
            }).raise_for_status()

    # -- measuring --------------------------------------------------------------------------
    def backlog(self, step: Step) -> dict:
        prefix = self.scratch.prefix
        queues = {name: int(self.redis.llen(prefix + name)) for name in QUEUES}
        ids = [s.store_id for s in step.sent]
        with self.engine.connect() as connection:
            outbox = connection.execute(text("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL")).scalar()
            placed = connection.execute(text(
                "SELECT count(DISTINCT o.id) FROM orders o JOIN evidence_events e ON e.order_id = o.id "
                "WHERE o.shop_id = ANY(:shops) AND o.external_id = ANY(:ids) AND e.kind = 'supplier_order.placed'"
            ), {"shops": [s for _, s in self.shops], "ids": ids}).scalar() if ids else 0
        return {"t": time.time(), "queued": sum(queues.values()), "queues": queues, "outbox": outbox,
                "unplaced": len(ids) - placed}

    def cpu(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for p in self.procs:
            totals[p.kind] = totals.get(p.kind, 0.0) + p.cpu()
        return totals

    def database_counters(self) -> tuple[int, int]:
        with self.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT xact_commit + xact_rollback, (SELECT count(*) FROM outbox) FROM pg_stat_database "
                "WHERE datname = current_database()"
            )).one()
        return int(row[0]), int(row[1])

    def outbox_high_water(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar())

    def tasks_since(self, outbox_id: int) -> list[tuple[str, int]]:
        """Outbox rows (tasks) enqueued since then, by task name, most first (retention keeps them)."""
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT task_name, count(*) FROM outbox WHERE id > :id GROUP BY task_name ORDER BY count(*) DESC"
            ), {"id": outbox_id}).all()]

    def latencies(self, step: Step) -> dict[str, list[float]]:
        paid = {s.store_id: s.paid_at for s in step.sent}
        with self.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT o.external_id,"
                " extract(epoch FROM min(e.recorded_at) FILTER (WHERE e.kind = 'supplier_order.placed')),"
                " extract(epoch FROM min(e.recorded_at) FILTER (WHERE e.kind = 'supplier_order.shipped')),"
                " extract(epoch FROM min(e.recorded_at) FILTER (WHERE e.kind = 'fulfilment.pushed')),"
                " extract(epoch FROM min(e.recorded_at) FILTER (WHERE e.kind = 'notification.sent'))"
                " FROM orders o JOIN evidence_events e ON e.order_id = o.id"
                " WHERE o.shop_id = ANY(:shops) AND o.external_id = ANY(:ids) GROUP BY o.external_id"
            ), {"shops": [s for _, s in self.shops], "ids": list(paid)}).all()
        out: dict[str, list[float]] = {"placed": [], "fulfilled": [], "mailed": [], "completed": []}
        for external_id, placed, shipped, pushed, mailed in rows:
            start = paid[int(external_id)]
            if placed is not None:
                out["placed"].append(float(placed) - start)
            if shipped is not None and pushed is not None:
                out["fulfilled"].append(float(pushed) - float(shipped))
            if pushed is not None:
                out["completed"].append(float(pushed) - start)
            if mailed is not None:
                out["mailed"].append(float(mailed) - start)
        return out

    # -- load -------------------------------------------------------------------------------
    def run_step(self, rate: float, rng: Random, client: httpx.Client) -> dict:
        from app.sandbox.catalogue import random_order

        step = Step(rate)
        count = max(1, int(rate * self.args.step_seconds))
        bodies = [(self.shops[i % len(self.shops)][0], random_order(rng, rng.randint(1, 10**6))) for i in range(count)]
        cpu_before, (xact_before, outbox_before) = self.cpu(), self.database_counters()
        outbox_first = self.outbox_high_water()
        lock = threading.Lock()

        def send(shop: str, order: dict) -> None:
            paid_at = time.time()
            try:
                response = client.post(f"{self.sandbox}/shopify/_control/orders",
                                       json={"shop": shop, "order": order, "paid": True})
                if response.status_code != 201:
                    raise httpx.HTTPError(f"{response.status_code}: {response.text[:200]}")
                with lock:
                    step.sent.append(Sent(int(response.json()["order"]["id"]), shop, paid_at))
            except httpx.HTTPError:
                with lock:
                    step.failed += 1

        started = time.monotonic()
        next_sample = started
        with ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT) as pool:
            for index, (shop, order) in enumerate(bodies):
                due = started + index / rate
                while (now := time.monotonic()) < due:
                    if now >= next_sample:
                        step.samples.append(self.backlog(step))
                        next_sample += 1.0
                    time.sleep(min(due - now, 0.05))
                pool.submit(send, shop, order)
        arrivals_end = time.monotonic()
        at_end = self.backlog(step)
        drain_deadline = time.monotonic() + self.args.drain_seconds
        last = at_end
        while time.monotonic() < drain_deadline:
            last = self.backlog(step)
            step.samples.append(last)
            if last["unplaced"] == 0 and last["queued"] == 0 and last["outbox"] == 0:
                break
            time.sleep(1.0)
        drained_after = time.monotonic() - arrivals_end
        # Shipping, fulfilment and mail follow placement by the supplier's delays: give them time.
        settle = time.monotonic() + self.args.confirm_after + self.args.ship_after + 3
        while time.monotonic() < settle:
            time.sleep(0.5)
        cpu_after, (xact_after, outbox_after) = self.cpu(), self.database_counters()
        lat = self.latencies(step)
        # CPU and counts per order that went all the way (paid to store fulfilment) in the window:
        # per paid order it would look cheaper the less was done. Exact when everything drained.
        orders = max(len(lat["completed"]), 1)
        tasks = self.tasks_since(outbox_first)
        sustained = last["unplaced"] == 0 and at_end["unplaced"] <= max(BOUNDED_SECONDS * rate, 5)
        return {
            "rate": rate, "orders": len(step.sent), "completed": len(lat["completed"]), "failed_posts": step.failed,
            "arrival_rate": round(len(step.sent) / max(arrivals_end - started, 1e-6), 2),
            "sustained": sustained, "unplaced_at_end": at_end["unplaced"], "unplaced_after_drain": last["unplaced"],
            "drained_after_s": round(drained_after, 1),
            "max_queued": max((s["queued"] for s in step.samples), default=0),
            "max_outbox": max((s["outbox"] for s in step.samples), default=0),
            "latency_s": {name: {"n": len(v), "p50": _round(percentile(v, 0.5)), "p99": _round(percentile(v, 0.99))}
                          for name, v in lat.items()},
            "cpu_ms_per_order": {k: round(1000 * (cpu_after.get(k, 0) - cpu_before.get(k, 0)) / orders, 1)
                                 for k in cpu_after},
            "transactions_per_order": round((xact_after - xact_before) / orders, 1),
            "outbox_tasks_per_order": round((outbox_after - outbox_before) / orders, 1),
            "tasks_per_order_by_name": {name: round(n / orders, 2) for name, n in tasks},
        }

    def run(self) -> list[dict]:
        self.start()
        try:
            self.add_shops()
            rng = Random(self.args.seed)  # noqa: S311 - load shape, not secrets
            limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
            results = []
            with httpx.Client(timeout=60, limits=limits) as client:
                for rate in self.args.rates:
                    result = self.run_step(rate, rng, client)
                    results.append(result)
                    print(f"[{self.label}] " + summary_line(result), flush=True)
                    if not result["sustained"] and not self.args.keep_going:
                        break
            return results
        finally:
            self.stop()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def dropguard_cpu(result: dict) -> float:
    return sum(v for k, v in result["cpu_ms_per_order"].items() if k != "sandbox")


def summary_line(r: dict) -> str:
    lat = r["latency_s"]
    return (
        f"{r['rate']:>5g}/s  orders {r['orders']:>4} done {r['completed']:>4}  sustained {'yes' if r['sustained'] else 'NO '}  "
        f"unplaced end {r['unplaced_at_end']:>4} after drain {r['unplaced_after_drain']:>4}  "
        f"placed p50 {lat['placed']['p50']} p99 {lat['placed']['p99']}  "
        f"fulfil p50 {lat['fulfilled']['p50']}  mail p50 {lat['mailed']['p50']}  "
        f"cpu ms/order {r['cpu_ms_per_order']} (dropguard {dropguard_cpu(r):.0f})  "
        f"tx/order {r['transactions_per_order']}  tasks/order {r['outbox_tasks_per_order']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="2,5,10", help="orders per second, one step each, in order")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="arrivals per step last this long")
    parser.add_argument("--drain-seconds", type=float, default=20.0, help="time given to place a step's orders")
    parser.add_argument("--shops", type=int, default=6, help="shops (and so suppliers) the orders spread over")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--worker", action="append", default=None,
                        help="a worker: QUEUES:CONCURRENCY (QUEUES comma-separated or 'all'); repeatable")
    parser.add_argument("--confirm-after", type=float, default=0.3, help="supplier emulator: seconds to confirm")
    parser.add_argument("--ship-after", type=float, default=0.5, help="supplier emulator: seconds to ship")
    parser.add_argument("--sandbox-in-web", action="store_true",
                        help="mount the sandbox in the web process (code trees without `dropguard sandbox`)")
    parser.add_argument("--code", action="append", type=Path, default=None,
                        help="the project tree the processes run from; repeat to compare (first is the baseline)")
    parser.add_argument("--keep-going", action="store_true", help="run every rate even after one is not sustained")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile every worker pool process; profiles land beside the logs in bench/results")
    parser.add_argument("--web-url", help="measure a running deployment instead (CPU per process is not measured)")
    parser.add_argument("--sandbox-url", help="its sandbox, e.g. http://sandbox:8100/sandbox")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    args.worker = args.worker or ["all:2"]
    if args.step_seconds * len(args.rates) > 150:
        parser.error("keep a run short on a shared machine: step seconds x rates at most 150")
    # `timeout` or Ctrl-C: stop the processes and drop the scratch database on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    codes = [c.resolve() for c in (args.code or [ROOT])]
    runs = {}
    for index, code in enumerate(codes):
        label = "baseline" if len(codes) > 1 and index == 0 else f"run{index}" if len(codes) > 2 else (
            "candidate" if len(codes) > 1 else "this")
        runs[label] = {"code": str(code), "steps": Pipeline(args, code, label).run()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}, indent=2))
    if "baseline" in runs:
        print_comparison(runs)
    print(f"results: {out}")
    return 0


def print_comparison(runs: dict) -> None:
    base = {r["rate"]: r for r in runs["baseline"]["steps"]}
    for label, run in runs.items():
        if label == "baseline":
            continue
        for r in run["steps"]:
            b = base.get(r["rate"])
            if b is None:
                continue
            ratio = dropguard_cpu(r) / dropguard_cpu(b) if dropguard_cpu(b) else float("nan")
            bp, cp = b["latency_s"]["placed"]["p50"], r["latency_s"]["placed"]["p50"]
            print(f"{r['rate']:>5g}/s  dropguard CPU/order {dropguard_cpu(b):.0f} -> {dropguard_cpu(r):.0f} ms "
                  f"(x{ratio:.2f})  placed p50 {bp} -> {cp} s  sustained {b['sustained']} -> {r['sustained']}")
    medians = {label: statistics.median([dropguard_cpu(r) for r in run["steps"]] or [0]) for label, run in runs.items()}
    print("median Dropguard CPU ms/order over the steps: " + ", ".join(f"{k} {v:.0f}" for k, v in medians.items()))


if __name__ == "__main__":
    raise SystemExit(main())
