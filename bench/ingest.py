"""Webhook ingest benchmark: the project's endpoint against a minimal baseline, in one run.

    python -m bench.ingest --requests 5000 --concurrency 32      (make bench)

Both servers run on the same PostgreSQL and Redis (the machine's when DROPGUARD_DATABASE_URL /
DROPGUARD_REDIS_URL are set, else the embedded ones), in a fresh database, with the same uvicorn
setup and worker count. The project is `dropguard serve` with one registered shop (or --shops N):
each request is an HMAC-signed orders/create webhook that is verified, parsed and recorded with its
ledger event and outbox row in one transaction before the answer (no worker runs, so nothing is
published). The baseline (bench/baseline_app.py) does one INSERT and one LPUSH per request with the
same I/O model as the project's ingest route (psycopg's async pool on the event loop). Load comes
from wrk when installed, else from an httpx client; it targets loopback only and is bounded in
count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.embedded import start as start_embedded

ROOT = Path(__file__).resolve().parent.parent
SHOP = "bench-shop.myshopify.com"


def shop_domains(count: int) -> list[str]:
    return [SHOP] if count == 1 else [f"bench-shop-{n}.myshopify.com" for n in range(count)]
SECRET = "bench-api-secret"
RESULTS = ROOT / "bench" / "results"

WRK_SCRIPT = r"""
local quota = tonumber(os.getenv("BENCH_QUOTA"))
local prefix = os.getenv("BENCH_PREFIX")
local shops = {}
for shop in string.gmatch(os.getenv("BENCH_SHOPS"), "[^,]+") do table.insert(shops, shop) end
local counter, responses, index = 0, 0, 0

function setup(thread)
  thread:set("tid", index)
  index = index + 1
end

function request()
  counter = counter + 1
  wrk.headers["X-Shopify-Event-Id"] = prefix .. "-" .. tid .. "-" .. counter
  wrk.headers["X-Shopify-Shop-Domain"] = shops[(counter % #shops) + 1]
  return wrk.format()
end

function response(status, headers, body)
  responses = responses + 1
  if responses == quota then
    -- wrk runs for its whole -d otherwise: the driver interrupts it (SIGINT) on this line.
    io.write("BENCH_QUOTA_REACHED\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"completed": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Result:
    target: str
    completed: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def order_body(seed: int = 1) -> bytes:
    """A realistic orders/create payload (about 3 KB), the same bytes for every request."""
    rng = random.Random(seed)
    order_id = rng.randint(10**12, 10**13)
    now = datetime.now(UTC).isoformat()
    address = {
        "first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical Row", "address2": "",
        "city": "London", "province_code": None, "zip": "N1 9GU", "country_code": "GB", "phone": "+447700900123",
    }
    order = {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": "#1042",
        "order_number": 1042, "email": "ada@example.com", "created_at": now, "updated_at": now,
        "processed_at": now, "currency": "GBP", "presentment_currency": "GBP", "financial_status": "paid",
        "fulfillment_status": None, "total_price": "59.70", "subtotal_price": "59.70", "total_tax": "9.95",
        "customer_locale": "en-GB", "browser_ip": "203.0.113.7", "tags": "", "note": None,
        "customer": {"id": rng.randint(10**9, 10**10), "email": "ada@example.com", "first_name": "Ada",
                     "last_name": "Lovelace", "phone": None, "locale": "en-GB"},
        "shipping_address": address, "billing_address": address,
        "line_items": [
            {"id": order_id * 10 + i, "product_id": 7000 + i, "variant_id": 8000 + i, "sku": f"SKU-{i}",
             "title": f"Product {i}", "variant_title": "Default", "quantity": 1 + i, "price": "19.90",
             "requires_shipping": True, "fulfillable_quantity": 1 + i, "vendor": "Acme"}
            for i in range(3)
        ],
        "shipping_lines": [{"code": "standard", "price": "0.00", "title": "Standard"}],
    }
    return json.dumps(order).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }


def run_wrk(
    url: str, body: bytes, *, requests: int, concurrency: int, time_limit: float, prefix: str, shops: list[str]
) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "ingest.lua"
        headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in signed_headers(body).items())
        body_literal = body.decode().replace("\\", "\\\\").replace('"', '\\"')
        script.write_text(f'wrk.method = "POST"\nwrk.body = "{body_literal}"\n{headers}{WRK_SCRIPT}')
        env = {**os.environ, "BENCH_QUOTA": str(requests), "BENCH_PREFIX": prefix, "BENCH_SHOPS": ",".join(shops)}
        # One thread: wrk needs little CPU and the servers under test share the same two cores.
        argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{int(time_limit)}s", "--timeout", "10s", "-s", str(script), url]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("BENCH_QUOTA_REACHED"):
                proc.send_signal(signal.SIGINT)  # wrk then stops and reports the time actually spent
        if proc.wait(timeout=30) != 0:
            raise SystemExit("bench: wrk failed:\n" + "".join(lines[-20:]))
    line = next(line for line in lines if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Result("", data["completed"], data["errors"], data["duration_us"] / 1e6, data["p50_us"] / 1e3, data["p99_us"] / 1e3)


async def _httpx_load(
    url: str, body: bytes, requests: int, concurrency: int, time_limit: float, prefix: str, shops: list[str]
) -> Result:
    headers = signed_headers(body)
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.monotonic() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one_connection(worker: int) -> None:
            nonlocal issued, errors
            while issued < requests and time.monotonic() < deadline:
                issued += 1
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers={
                        **headers,
                        "X-Shopify-Event-Id": f"{prefix}-{worker}-{issued}",
                        "X-Shopify-Shop-Domain": shops[issued % len(shops)],
                    })
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_connection(i) for i in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    pick = (lambda q: latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000) if latencies else (lambda q: 0.0)
    return Result("", len(latencies), errors, seconds, pick(0.50), pick(0.99))


def load(
    url: str, body: bytes, *, requests: int, concurrency: int, time_limit: float, tool: str, shops: list[str]
) -> Result:
    prefix = uuid.uuid4().hex[:12]
    if tool == "wrk":
        return run_wrk(
            url, body, requests=requests, concurrency=concurrency, time_limit=time_limit, prefix=prefix, shops=shops
        )
    return asyncio.run(_httpx_load(url, body, requests, concurrency, time_limit, prefix, shops))


def ingest_batches(metrics_url: str) -> tuple[float, float]:
    """(transactions, deliveries) from the project's group-commit histogram (one uvicorn worker's
    view when several run)."""
    text_metrics = httpx.get(metrics_url, timeout=10).text
    family = next(f for f in text_string_to_metric_families(text_metrics) if f.name == "dropguard_ingest_batch_size")
    values = {sample.name: sample.value for sample in family.samples if "le" not in sample.labels}
    return values["dropguard_ingest_batch_size_count"], values["dropguard_ingest_batch_size_sum"]


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log_dir: Path) -> None:
        self.name, self.port = name, port
        self.log = (log_dir / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, path: str = "/healthz", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {self.name} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"bench: {self.name} did not start within {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="measured requests per target and round")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes for both servers")
    parser.add_argument("--warmup", type=int, default=1000, help="unmeasured requests per target first")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (alternating); the median counts")
    parser.add_argument("--time-limit", type=float, default=120, help="seconds at most per load run")
    parser.add_argument(
        "--shops", type=int, default=1, help="spread the webhooks over this many shops (each has its own ledger chain)"
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "httpx"), default="auto")
    args = parser.parse_args()
    if not 1 <= args.requests <= 200_000 or not 1 <= args.concurrency <= 512:
        parser.error("--requests must be 1..200000 and --concurrency 1..512")
    tool = args.loadgen if args.loadgen != "auto" else ("wrk" if shutil.which("wrk") else "httpx")

    embedded = None
    database_url, redis_url = os.environ.get("DROPGUARD_DATABASE_URL"), os.environ.get("DROPGUARD_REDIS_URL")
    if not (database_url and redis_url):
        embedded = start_embedded(ROOT / ".dropguard" / "bench", database="postgres")
        database_url, redis_url = embedded.database_url, embedded.redis_url
    run_id = uuid.uuid4().hex[:8]
    server_url = make_url(database_url).set(drivername="postgresql+psycopg")
    bench_db = f"dropguard_bench_{run_id}"
    bench_url = server_url.set(database=bench_db).render_as_string(hide_password=False)
    admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    prefix = f"dgbench-{run_id}:"
    env = {
        **os.environ,
        "DROPGUARD_DATABASE_URL": bench_url,
        "DROPGUARD_REDIS_URL": redis_url,
        "DROPGUARD_REDIS_PREFIX": prefix,
        "DROPGUARD_SHOPIFY_API_KEY": "bench-api-key",
        "DROPGUARD_SHOPIFY_API_SECRET": SECRET,
        "DROPGUARD_SECRET_KEY": "bench-secret-key-0123456789",
        "DROPGUARD_SANDBOX": "false",
        "DROPGUARD_LOG_LEVEL": "WARNING",
        "BENCH_DATABASE_URL": bench_url,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_QUEUE_KEY": prefix + "baseline",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{bench_db}"'))
        project_port, baseline_port = free_port(), free_port()
        env["DROPGUARD_PUBLIC_URL"] = f"http://127.0.0.1:{project_port}"
        py = sys.executable
        shops = shop_domains(args.shops)
        commands = [["migrate"], *(["shops", "add", shop, "--access-token", "shpat_bench"] for shop in shops)]
        for argv in commands:
            done = subprocess.run([py, "-m", "app.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"bench: dropguard {argv[0]} failed: {done.stderr.strip()[-2000:]}")
        workers = str(args.workers)
        project = Server(
            "project", [py, "-m", "app.cli", "serve", "--port", str(project_port), "--workers", workers],
            env, project_port, RESULTS,
        )
        baseline = Server(
            "baseline",
            [py, "-m", "uvicorn", "bench.baseline_app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(baseline_port), "--workers", workers, "--log-level", "warning", "--no-access-log"],
            env, baseline_port, RESULTS,
        )
        servers = [project, baseline]
        project.wait_ready("/healthz")
        baseline.wait_ready("/docs")
        body = order_body()
        targets = {
            "baseline": f"http://127.0.0.1:{baseline_port}/webhooks/shopify",
            "project": f"http://127.0.0.1:{project_port}/webhooks/shopify",
        }
        print(f"bench: {tool}, {args.requests} requests x {args.rounds} rounds at concurrency {args.concurrency}, "
              f"{args.workers} uvicorn worker(s) each, {args.shops} shop(s), body {len(body)} bytes", flush=True)
        for url in targets.values():
            if args.warmup:
                load(url, body, requests=args.warmup, concurrency=args.concurrency, time_limit=args.time_limit,
                     tool=tool, shops=shops)
        rounds: dict[str, list[Result]] = {name: [] for name in targets}
        for number in range(args.rounds):
            for name, url in targets.items():
                result = load(url, body, requests=args.requests, concurrency=args.concurrency,
                              time_limit=args.time_limit, tool=tool, shops=shops)
                result.target = name
                rounds[name].append(result)
                print(f"  round {number + 1} {name:>8}: {result.rate:8.0f} req/s  p50 {result.p50_ms:6.1f} ms"
                      f"  p99 {result.p99_ms:6.1f} ms  errors {result.errors}", flush=True)
        batches = ingest_batches(f"http://127.0.0.1:{project_port}/metrics")
        with create_engine(bench_url).connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM webhook_deliveries WHERE status = 'queued'")).scalar_one()
            ledger = connection.execute(text("SELECT count(*) FROM evidence_events")).scalar_one()
        summary = {}
        for name, results in rounds.items():
            best = sorted(results, key=lambda r: r.rate)[len(results) // 2]
            summary[name] = best
        ratio = summary["project"].rate / summary["baseline"].rate if summary["baseline"].rate else 0.0
        print()
        print(f"{'target':>8}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  errors   (median round)")
        for name, result in summary.items():
            print(f"{name:>8}  {result.rate:8.0f}  {result.p50_ms:7.1f}  {result.p99_ms:7.1f}  {result.errors:6d}")
        print(f"ratio project/baseline: {ratio:.2f}   (target >= 0.80; project p99 target < 150 ms)")
        print(f"project stored {stored} deliveries and {ledger} ledger events"
              f" in {batches[0]:.0f} transactions (mean {batches[1] / max(batches[0], 1):.1f} per transaction)")
        record = {
            "when": datetime.now(UTC).isoformat(), "loadgen": tool, "args": vars(args),
            "rounds": {name: [asdict(r) | {"rate": r.rate} for r in results] for name, results in rounds.items()},
            "ratio": ratio, "stored": stored, "ledger_events": ledger,
            "ingest_transactions": batches[0], "ingest_deliveries": batches[1],
        }
        out = RESULTS / f"ingest-{run_id}.json"
        out.write_text(json.dumps(record, indent=2))
        print(f"details: {out.relative_to(ROOT)}")
        failed = any(r.errors for results in rounds.values() for r in results)
        return 1 if failed else 0
    finally:
        for server in servers:
            server.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'))
        admin.dispose()
        try:
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
        except Exception as error:  # cleanup of an isolated prefix: report, do not mask the result
            print(f"bench: could not clean Redis keys {prefix}*: {error}", file=sys.stderr)
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
