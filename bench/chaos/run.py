"""Chaos run (by hand, not in the suite): webhooks from the store emulator delivered with
duplicates and out of order, while web and worker processes are SIGKILLed at random, Redis and
PostgreSQL are restarted and the supplier times out or answers 503; then bench/chaos/checker.py.

    .venv/bin/python -m bench.chaos.run --seed 1 --webhooks 10000

Its own PostgreSQL (Unix socket) and Redis (127.0.0.1) under .dropguard/chaos-<seed>/, its own
ports, loopback only. Bounded: --deadline-minutes for the deliveries, --settle-minutes for the
queues to drain. Seeded: the orders, the schedule and the faults follow from --seed (the
timing of what the processes do does not).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SHOP = "chaos-shop.myshopify.com"


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, (logs / f"{name}.log").open("ab")
        self.cwd = logs  # beat's schedule file and any other droppings stay in the run's folder
        self.proc: subprocess.Popen | None = None
        self.kills = 0
        self.exits = 0  # exited by itself and restarted by the supervisor
        self.lock = threading.Lock()  # held by whoever kills and restarts it

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=self.log,  # noqa: S603
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group (a Celery worker's pool processes too): nothing cleans up."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        from app.embedded import free_port
        from app.runner import development_defaults
        from bench.chaos.services import OwnPostgres, OwnRedis
        from bench.chaos.sinks import MailSink, WebhookSink

        self.args, self.rng = args, random.Random(args.seed)  # noqa: S311 - a schedule, not a secret
        self.dir = ROOT / ".dropguard" / f"chaos-{args.seed}"
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "logs").mkdir(parents=True)
        self.postgres, self.redis = OwnPostgres(self.dir), OwnRedis(self.dir)
        self.store_sink, self.mail = WebhookSink(), MailSink()
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DROPGUARD_")}
        env.update(development_defaults(port=self.port, data_dir=self.dir, smtp_port=self.mail.port))
        env.update({
            "PYTHONPATH": str(ROOT), "DROPGUARD_DATABASE_URL": self.postgres.url, "DROPGUARD_REDIS_URL": self.redis.url,
            "DROPGUARD_SECRET_KEY": "chaos-secret-key-0123456789", "DROPGUARD_LOG_LEVEL": "WARNING",
            "DROPGUARD_OUTBOX_SWEEP_AFTER_SECONDS": "5", "DROPGUARD_QUIET_HOURS": "[0, 0]",
            "DROPGUARD_WORKER_METRICS_PORT": str(free_port()), "DROPGUARD_TASK_HARD_TIME_LIMIT": "60",
        })
        self.env = env
        os.environ.update(env)
        from app.config import get_settings

        get_settings.cache_clear()
        self.base = f"http://127.0.0.1:{self.port}"
        logs = self.dir / "logs"
        self.web = Process("web", [PYTHON, "-m", "app.cli", "serve", "--port", str(self.port)], env, logs)
        self.worker = Process("worker", [PYTHON, "-m", "app.cli", "worker", "--concurrency", "2"], env, logs)
        self.beat = Process("beat", [PYTHON, "-m", "app.cli", "beat"], env, logs)
        self.faults: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()  # event id -> 2xx answers
        self.statuses: Counter[str] = Counter()
        self.given_up: list[str] = []
        self._stop = threading.Event()  # ends the faults
        self._done = threading.Event()  # ends the supervision

    # --- set-up -----------------------------------------------------------------------------

    def start(self) -> None:
        subprocess.run([PYTHON, "-c", "from app.migrate import upgrade_to_head; upgrade_to_head()"],  # noqa: S603
                       cwd=ROOT, env=self.env, check=True)
        # The web process alone while the store makes the orders: once a worker runs, the app
        # subscribes to the store's topics at its own address, and the store's webhooks would
        # reach it directly instead of the run's capture.
        self.web.start()
        _wait_http(f"{self.base}/healthz", 60)

    def start_workers(self) -> None:
        self.worker.start()
        self.beat.start()

    def orders(self) -> list[list[tuple[dict[str, str], bytes]]]:
        """The orders made in the store emulator; their webhooks (captured, signed by the store)
        grouped per order in the order the store sent them."""
        from app.sandbox.catalogue import random_order
        from app.sandbox.simulate import ensure_demo_shop

        token = ensure_demo_shop(SHOP)
        with httpx.Client(base_url=f"{self.base}/sandbox/shopify/_control", timeout=30) as client:
            registered = client.post("/shops", json={"domain": SHOP, "access_token": token, "name": "Chaos",
                                                     "webhook_url": self.store_sink.url})
            assert registered.status_code == 201, registered.text
            self.store_sink.captured.clear()  # the install's own webhooks are not the run's
            count = max(1, round(self.args.webhooks / (2 * (1 + self.args.duplicates))))
            bodies = [{"shop": SHOP, "order": random_order(self.rng, 1000 + i), "paid": True} for i in range(count)]

            def make(body: dict) -> None:
                answer = client.post("/orders", json=body)
                assert answer.status_code == 201, answer.text

            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(make, bodies))
        # A first attempt that timed out is retried by the store's runner: wait (bounded) until
        # every order's two webhooks are in, each event once.
        deadline = time.monotonic() + 300
        while True:
            per_order: dict[str, dict[str, tuple[dict[str, str], bytes]]] = {}
            for headers, body in list(self.store_sink.captured):
                headers = {k.lower(): v for k, v in headers.items()}
                if headers.get("x-shopify-topic") in ("orders/create", "orders/paid"):
                    webhooks = per_order.setdefault(str(json.loads(body)["id"]), {})
                    webhooks.setdefault(headers["x-shopify-topic"], (headers, body))
            complete = [key for key, webhooks in per_order.items() if len(webhooks) == 2]
            if len(complete) >= count or time.monotonic() > deadline:
                break
            time.sleep(2)
        self.faults["orders whose webhooks the store did not send in 300 s (left out)"] = count - len(complete)
        return [list(per_order[key].values()) for key in sorted(complete, key=int)]

    def schedule(self, orders) -> list[tuple[dict[str, str], bytes]]:
        """Store order, 5 % of orders paid-before-created, 10 % of deliveries sent again later."""
        sequence = []
        for webhooks in orders:
            webhooks = sorted(webhooks, key=lambda w: w[0]["x-shopify-topic"] != "orders/create")
            if self.rng.random() < self.args.out_of_order:
                webhooks.reverse()
                self.faults["order paid before created"] += 1
            sequence.extend(webhooks)
        for index in self.rng.sample(range(len(sequence)), round(len(sequence) * self.args.duplicates)):
            later = self.rng.randint(index, len(sequence))
            sequence.insert(later, sequence[index])
            self.faults["duplicate delivery"] += 1
        return sequence

    # --- the run ----------------------------------------------------------------------------

    def deliver(self, sequence) -> None:
        work: queue.Queue = queue.Queue()
        for item in sequence:
            work.put(item)
        deadline = time.monotonic() + self.args.deadline_minutes * 60
        lock = threading.Lock()

        def sender() -> None:
            with httpx.Client(timeout=5) as client:
                while True:
                    try:
                        headers, body = work.get_nowait()
                    except queue.Empty:
                        return
                    delay = 0.2
                    while True:
                        try:
                            status = client.post(f"{self.base}/webhooks/shopify", content=body, headers={
                                k: v for k, v in headers.items() if k not in ("host", "content-length")}).status_code
                            outcome = str(status)
                        except httpx.HTTPError as error:
                            status, outcome = None, type(error).__name__
                        with lock:
                            self.statuses[outcome] += 1
                        if status is not None and 200 <= status < 300:
                            with lock:
                                self.answers[headers["x-shopify-event-id"]] += 1
                            break
                        if time.monotonic() > deadline:
                            with lock:
                                self.given_up.append(headers["x-shopify-event-id"])
                            break
                        time.sleep(delay + self.rng.random() * delay)  # the sender's backoff
                        delay = min(delay * 2, 3.0)

        threads = [threading.Thread(target=sender) for _ in range(self.args.senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def chaos(self) -> None:
        """Faults at random (seeded) until stopped: the processes die by SIGKILL and come back,
        Redis and PostgreSQL restart, the supplier fails or hangs its next calls."""
        rng = random.Random(self.args.seed * 7919)  # noqa: S311
        last_postgres = time.monotonic()
        while not self._stop.wait(rng.expovariate(1 / self.args.fault_every)):
            action = rng.choices(["web", "worker", "redis", "postgres", "supplier_503", "supplier_timeout"],
                                 weights=[30, 30, 10, 8, 11, 11])[0]
            if action == "postgres" and time.monotonic() - last_postgres < 20:
                action = "worker"
            try:
                if action in ("web", "worker"):
                    process = self.web if action == "web" else self.worker
                    with process.lock:
                        process.kill()
                        time.sleep(rng.uniform(0.2, 2.0))
                        process.start()
                    self.faults[f"SIGKILL {action}"] += 1
                elif action == "redis":
                    self.redis.restart()
                    self.faults["Redis restarted"] += 1
                elif action == "postgres":
                    self.postgres.restart()
                    last_postgres = time.monotonic()
                    self.faults["PostgreSQL restarted (immediate)"] += 1
                else:
                    behaviour = {"fail_next": rng.randint(1, 5)} if action == "supplier_503" else \
                        {"hang_next": rng.randint(1, 3), "hang_ms": 15000}
                    httpx.post(f"{self.base}/sandbox/supplier/_control/behaviour", json=behaviour, timeout=5)
                    self.faults[action.replace("_", " ")] += 1
            except (httpx.HTTPError, RuntimeError, subprocess.SubprocessError) as error:
                self.faults[f"{action} fault not applied ({type(error).__name__})"] += 1

    def supervise(self) -> None:
        """What systemd or Compose's `restart: always` does: a process that exits is started
        again (the Celery worker exits on its own when Redis goes away at a bad moment)."""
        while not self._done.wait(0.5):
            for process in (self.web, self.worker, self.beat):
                with process.lock:
                    if not process.alive() and not self._done.is_set():
                        process.exits += 1
                        process.start()

    def settle(self) -> float:
        """Every process up, then wait (bounded) until nothing is left to do."""
        from bench.chaos.checker import pending_work

        _wait_http(f"{self.base}/healthz", 60)
        started = time.monotonic()
        deadline = started + self.args.settle_minutes * 60
        while time.monotonic() < deadline:
            if not any(pending_work(self.postgres.url, self.redis.url).values()):
                break
            time.sleep(2)
        return time.monotonic() - started

    def stop(self) -> None:
        self._done.set()
        for process in (self.web, self.worker, self.beat):
            with process.lock:
                process.stop()
        self.store_sink.stop()
        self.mail.stop()
        self.redis.stop()
        self.postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--out-of-order", type=float, default=0.05)
    parser.add_argument("--fault-every", type=float, default=8.0, help="mean seconds between faults")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--deadline-minutes", type=float, default=30)
    parser.add_argument("--chaos-minutes", type=float, default=4,
                        help="faults go on this long from the first delivery (or until all is processed)")
    parser.add_argument("--settle-minutes", type=float, default=8)
    parser.add_argument("--keep", action="store_true", help="keep .dropguard/chaos-<seed> after the run")
    args = parser.parse_args()

    from bench.chaos import checker

    run = Run(args)
    try:
        run.start()
        started = time.monotonic()
        sequence = run.schedule(run.orders())
        run.start_workers()
        print(f"chaos: seed {args.seed}: {len(sequence)} deliveries made by the store", flush=True)
        threading.Thread(target=run.supervise, daemon=True).start()
        chaos = threading.Thread(target=run.chaos)
        chaos.start()
        delivering = time.monotonic()
        run.deliver(sequence)
        # Faults go on while the workers process what was received, for the chaos window.
        from bench.chaos.checker import pending_work

        while time.monotonic() - delivering < args.chaos_minutes * 60:
            if not any(pending_work(run.postgres.url, run.redis.url).values()):
                break
            time.sleep(2)
        run._stop.set()
        chaos.join()
        delivered_in = time.monotonic() - delivering
        settled_in = run.settle()
        results = checker.check(run, sequence)
        exits = {f"{p.name} exited by itself (restarted)": p.exits for p in (run.web, run.worker, run.beat)}
        results.update(seed=args.seed, deliveries=len(sequence), chaos_seconds=round(time.monotonic() - delivering - settled_in, 1), faults={**dict(run.faults), **exits},
                       answers=dict(run.statuses), delivered_seconds=round(delivered_in, 1),
                       settled_seconds=round(settled_in, 1), total_seconds=round(time.monotonic() - started, 1))
        out = ROOT / "bench" / "chaos" / "results"
        out.mkdir(exist_ok=True)
        (out / f"seed-{args.seed}.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(json.dumps(results, indent=2, sort_keys=True))
        if not results["passed"]:
            raise SystemExit(1)
    finally:
        run.stop()
        if not args.keep:
            shutil.rmtree(run.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
