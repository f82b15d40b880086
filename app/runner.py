"""`dropguard run`: the whole system on one machine, started and stopped together.

Embedded PostgreSQL and Redis (unless DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL are set),
development defaults for every other required setting, migrations, then the sandbox (store,
suppliers, carriers, mail catcher: its own process, so its CPU is not the web app's), the web app,
a Celery worker and beat as child processes whose output is shown here with a prefix, a demo shop and a trickle of simulated orders. Ctrl-C or SIGTERM stops
all of it, children first, then the embedded servers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from app import embedded
from app.config import ConfigError, get_settings
from app.db import get_sessionmaker, reset_engine
from app.migrate import upgrade_to_head
from app.orders.models import Order
from app.queues import QUEUES
from app.sandbox import life as sandbox_life
from app.sandbox.simulate import simulate_orders
from app.shops.models import Shop
from app.status.tokens import status_url

DATA_DIR = ".dropguard"
DEMO_SHOP = "demo-dropguard.myshopify.com"
# Stopping: how long children get to finish what they are doing before they are killed.
STOP_GRACE_SECONDS = 20.0
START_TIMEOUT_SECONDS = 60.0
WORKER_CONCURRENCY = 2
SUPPLIER_CONCURRENCY = 2

_print_lock = threading.Lock()
# Linux only: prctl(PR_SET_PDEATHSIG) ties each child's life to ours; elsewhere it is skipped.
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


def secret_key(data_dir: Path) -> str:
    """The development SECRET_KEY, generated once and kept: status links and tokens stay valid."""
    path = data_dir / "secret_key"
    if path.exists():
        value = path.read_text().strip()
        if len(value) >= 16:
            return value
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def development_defaults(*, port: int, data_dir: Path, smtp_port: int, sandbox_port: int) -> dict[str, str]:
    """Safe values for a local sandbox run; only used for settings the environment leaves unset."""
    base = f"http://127.0.0.1:{port}"
    sandbox = f"http://127.0.0.1:{sandbox_port}/sandbox"
    values = {
        "DROPGUARD_SHOPIFY_API_KEY": "dropguard-dev-api-key",
        "DROPGUARD_SHOPIFY_API_SECRET": "dropguard-dev-api-secret",
        "DROPGUARD_PUBLIC_URL": base,
        "DROPGUARD_SANDBOX_URL": sandbox,
        "DROPGUARD_SHOPIFY_ADMIN_URL": sandbox + "/shopify/{shop}",
        "DROPGUARD_SUPPLIER_API_URL": sandbox + "/supplier",
        "DROPGUARD_SMTP_HOST": "127.0.0.1",
        "DROPGUARD_SMTP_PORT": str(smtp_port),
        "DROPGUARD_SANDBOX": "true",
        # A terminal reads plain lines better than JSON; deployments keep the JSON default.
        "DROPGUARD_LOG_JSON": "false",
    }
    if not os.environ.get("DROPGUARD_SECRET_KEY"):
        values["DROPGUARD_SECRET_KEY"] = secret_key(data_dir)
    return values


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    pump: threading.Thread


def _pump(name: str, stream, width: int) -> None:
    for raw in iter(stream.readline, b""):
        say(f"{name:>{width}} | {raw.decode(errors='replace').rstrip()}")
    stream.close()


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if we are killed outright (SIGKILL), the kernel
    # sends the child SIGTERM instead of leaving it running, holding its port.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(name: str, argv: list[str], *, width: int = 6) -> Child:
    # A session of its own: a Ctrl-C on the terminal reaches only us, and we stop children in order.
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
        preexec_fn=_die_with_parent,  # only a prctl call: safe beside our threads
    )
    pump = threading.Thread(target=_pump, args=(name, proc.stdout, width), name=f"log-{name}", daemon=True)
    pump.start()
    return Child(name, proc, pump)


def stop_children(children: list[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    # SIGTERM to each child's main process only: a Celery worker then finishes its running tasks
    # and stops its own pool (a signal to the whole group would kill tasks mid-way).
    for child in children:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            say(f"dropguard: {child.name} did not stop within {grace:.0f} s; killing it")
        # Whatever is left in the group (a worker's pool processes) goes too.
        _signal_group(child.proc, signal.SIGKILL)
        child.proc.wait()
        child.pump.join(timeout=2)


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class Trickle(threading.Thread):
    """Simulated orders at a steady rate until stopped; a failed order is reported, not fatal."""

    def __init__(self, shop_domain: str, orders_per_minute: float, simulate: Callable[..., object]) -> None:
        super().__init__(name="demo-orders", daemon=True)
        self.shop_domain = shop_domain
        self.interval = 60.0 / orders_per_minute
        self.simulate = simulate
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.simulate(orders=1, rate=1.0, shop_domain=self.shop_domain)
            except Exception as error:  # the demo keeps going: the next order may well succeed
                say(f"  demo | simulated order failed: {type(error).__name__}: {error}")

    def stop(self) -> None:
        self.stopped.set()


def wait_healthy(url: str, children: list[Child], timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited with status {child.proc.returncode} while starting")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def demo_status_url(shop_domain: str, timeout: float) -> str | None:
    """The status link of the demo shop's newest order, once the worker has recorded one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_sessionmaker()() as session:
            order = session.scalars(
                select(Order).join(Shop, Shop.id == Order.shop_id)
                .where(Shop.domain == shop_domain).order_by(Order.id.desc()).limit(1)
            ).first()
            if order is not None:
                return status_url(order)
        time.sleep(0.5)
    return None


class _Stop(Exception):
    pass


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def run_all(*, port: int, orders_per_minute: float, data_dir: Path | None = None) -> None:
    data_dir = (data_dir or Path.cwd() / DATA_DIR).resolve()
    if port_in_use(port):
        raise SystemExit(f"dropguard: port {port} is already in use; pick another with --port")
    services = None
    children: list[Child] = []
    trickle: Trickle | None = None
    previous_term = signal.signal(signal.SIGTERM, _raise_stop)
    previous_int = signal.getsignal(signal.SIGINT)
    try:
        if not (os.environ.get("DROPGUARD_DATABASE_URL") and os.environ.get("DROPGUARD_REDIS_URL")):
            say(f"dropguard: starting the embedded PostgreSQL and Redis (data in {data_dir})")
            os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir))
            services = embedded.start(data_dir)
            os.environ.setdefault("DROPGUARD_DATABASE_URL", services.database_url)
            os.environ.setdefault("DROPGUARD_REDIS_URL", services.redis_url)
        sandbox_port = embedded.free_port()
        defaults = development_defaults(
            port=port, data_dir=data_dir, smtp_port=embedded.free_port(), sandbox_port=sandbox_port
        )
        for name, value in defaults.items():
            os.environ.setdefault(name, value)
        get_settings.cache_clear()
        settings = get_settings()
        say("dropguard: migrating the database")
        upgrade_to_head()

        python = sys.executable
        # Ours to start only when it is the one the defaults point at (not one configured elsewhere).
        if settings.sandbox and settings.sandbox_url == defaults["DROPGUARD_SANDBOX_URL"]:
            children.append(spawn("sandbox", [python, "-m", "app.cli", "sandbox", "--port", str(sandbox_port)],
                                  width=9))
            wait_healthy(f"{settings.sandbox_base}/_control/ping", children)
        children.append(spawn("web", [python, "-m", "app.cli", "serve", "--port", str(port)], width=9))
        # Both cores, and slow supplier calls on a pool of their own so that they never hold up
        # ingest, the store or mail (the layout of docker-compose.yml; docs/notes/perf.md).
        children.append(spawn("worker", [python, "-m", "app.cli", "worker", "--concurrency", str(WORKER_CONCURRENCY),
                                         "--queues", ",".join(q for q in QUEUES if q != "suppliers")], width=9))
        children.append(spawn("suppliers", [python, "-m", "app.cli", "worker", "--concurrency",
                                            str(SUPPLIER_CONCURRENCY), "--queues", "suppliers"], width=9))
        children.append(spawn("beat", [python, "-m", "app.cli", "beat"], width=9))
        wait_healthy(f"{settings.public_base}/healthz", children)

        status_link = None
        if settings.sandbox:
            say(f"dropguard: preparing the demo shop {DEMO_SHOP}")
            simulate_orders(orders=1, rate=1.0, shop_domain=DEMO_SHOP)
            # Parcels advance by themselves and CJ's stock moves (app/sandbox/life.py).
            sandbox_life.start()
            status_link = demo_status_url(DEMO_SHOP, timeout=30)
            if orders_per_minute > 0:
                trickle = Trickle(DEMO_SHOP, orders_per_minute, simulate_orders)
                trickle.start()

        say("")
        say("Dropguard is running. Ctrl-C stops everything.")
        if settings.sandbox:
            say(f"  Merchant dashboard: {settings.admin_base(DEMO_SHOP)}/admin")
            if status_link:
                say(f"  Order status page:  {status_link}")
            say(f"  Mail catcher:       {settings.sandbox_base}/mail/inbox")
            say(f"  Demo orders:        {orders_per_minute:g} per minute")
        say(f"  Metrics:            {settings.public_base}/metrics")
        say("")

        while True:
            for child in children:
                if child.proc.poll() is not None:
                    raise RuntimeError(f"{child.name} exited with status {child.proc.returncode}")
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        say("\ndropguard: stopping")
    except StatementError as error:
        # A stop signal that lands while a query runs reaches us wrapped by SQLAlchemy.
        if not isinstance(error.orig, _Stop | KeyboardInterrupt):
            raise
        say("\ndropguard: stopping")
    except ConfigError:
        raise  # one line from the CLI, once what was started is stopped
    except RuntimeError as error:
        say(f"dropguard: {error}; stopping")
        raise SystemExit(1) from None
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if trickle is not None:
            trickle.stop()
        stop_children(children)
        reset_engine()
        if services is not None:
            services.stop()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        if children:
            say("dropguard: stopped")
