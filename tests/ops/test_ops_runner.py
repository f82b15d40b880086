"""`dropguard run`: development defaults, and the whole system started and stopped as one."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from app.embedded import free_port
from app.runner import development_defaults, port_in_use, secret_key
from tests.webhooks.helpers import temporary_database

ROOT = Path(__file__).resolve().parents[2]


def test_secret_key_is_made_once_and_private(tmp_path):
    first = secret_key(tmp_path / ".dropguard")
    assert len(first) >= 32
    assert secret_key(tmp_path / ".dropguard") == first
    mode = stat.S_IMODE((tmp_path / ".dropguard" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_defaults_point_everything_at_the_local_sandbox(tmp_path, monkeypatch):
    monkeypatch.delenv("DROPGUARD_SECRET_KEY", raising=False)
    values = development_defaults(port=8123, data_dir=tmp_path, smtp_port=2525, sandbox_port=8124)
    assert values["DROPGUARD_PUBLIC_URL"] == "http://127.0.0.1:8123"
    # The sandbox is its own process on its own port; Dropguard reaches it only through settings.
    assert values["DROPGUARD_SANDBOX_URL"] == "http://127.0.0.1:8124/sandbox"
    assert values["DROPGUARD_SHOPIFY_ADMIN_URL"] == "http://127.0.0.1:8124/sandbox/shopify/{shop}"
    assert values["DROPGUARD_SUPPLIER_API_URL"] == "http://127.0.0.1:8124/sandbox/supplier"
    assert values["DROPGUARD_SMTP_PORT"] == "2525"
    assert values["DROPGUARD_SANDBOX"] == "true"


@pytest.fixture
def scratch_database():
    """A database of its own: the run migrates it and its worker must not see the test run's work."""
    with temporary_database(migrated=False) as url:
        yield url


@pytest.mark.e2e
def test_run_starts_everything_and_stops_on_ctrl_c(tmp_path, scratch_database):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPGUARD_")}
    env.update(
        DROPGUARD_DATABASE_URL=scratch_database,
        DROPGUARD_REDIS_URL=os.environ["DROPGUARD_REDIS_URL"],
        DROPGUARD_REDIS_PREFIX=f"dgrun-{uuid.uuid4().hex[:8]}:",
        DROPGUARD_WORKER_METRICS_PORT=str(free_port()),
        PYTHONPATH=str(ROOT),
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "run", "--port", str(port), "--orders-per-minute", "0"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while "Ctrl-C stops everything" not in log_path.read_text(errors="replace"):
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
                time.sleep(0.5)
            output = log_path.read_text(errors="replace")
            dashboard = re.search(r"Merchant dashboard: (\S+)", output).group(1)
            status = re.search(r"Order status page:\s+(\S+)", output).group(1)
            # The store's admin is the sandbox's, on a port of its own: the web app does not mount it.
            sandbox = re.fullmatch(r"(http://127\.0\.0\.1:(\d+)/sandbox)/shopify/demo-dropguard\.myshopify\.com/admin",
                                   dashboard)
            assert sandbox and int(sandbox.group(2)) != port, dashboard
            assert httpx.get(f"{sandbox.group(1)}/_control/ping", timeout=10).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/sandbox/_control/ping", timeout=10).status_code == 404
            opened = httpx.get(dashboard, follow_redirects=True, timeout=10)
            assert opened.status_code == 200 and opened.url.path == "/admin"
            assert httpx.get(status, timeout=10).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
            assert (tmp_path / ".dropguard" / "secret_key").exists()
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
    output = log_path.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert "dropguard: stopped" in output
    assert "WorkerLostError" not in output
    assert not port_in_use(port)


def test_a_configured_secret_key_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPGUARD_SECRET_KEY", "configured-secret-key-0123456789")
    values = development_defaults(port=8123, data_dir=tmp_path, smtp_port=2525, sandbox_port=8124)
    assert "DROPGUARD_SECRET_KEY" not in values
    assert not (tmp_path / "secret_key").exists()
