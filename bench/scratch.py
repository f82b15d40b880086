"""A fresh database and Redis key prefix for one benchmark run: on the machine's servers when
DROPGUARD_DATABASE_URL / DROPGUARD_REDIS_URL are set, else on embedded ones (as `make run` does).
Every bench creates it, fills it, and drops it at the end, whatever happened."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.embedded import start as start_embedded

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-secret-key-0123456789"


class ScratchDatabase:
    def __init__(self, label: str) -> None:
        self.embedded = None
        database_url, self.redis_url = os.environ.get("DROPGUARD_DATABASE_URL"), os.environ.get("DROPGUARD_REDIS_URL")
        if not (database_url and self.redis_url):
            self.embedded = start_embedded(ROOT / ".dropguard" / "bench", database="postgres")
            database_url, self.redis_url = self.embedded.database_url, self.embedded.redis_url
        self.run_id = uuid.uuid4().hex[:8]
        server_url = make_url(database_url).set(drivername="postgresql+psycopg")
        self.name = f"dropguard_bench_{label}_{self.run_id}"
        self.url = server_url.set(database=self.name).render_as_string(hide_password=False)
        self.prefix = f"dgbench-{self.run_id}:"
        self._admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def env(self, **extra: str) -> dict[str, str]:
        """The settings a bench process runs with (this database, this prefix, bench secrets)."""
        return {
            "DROPGUARD_DATABASE_URL": self.url, "DROPGUARD_REDIS_URL": self.redis_url,
            "DROPGUARD_REDIS_PREFIX": self.prefix, "DROPGUARD_SHOPIFY_API_KEY": "bench-api-key",
            "DROPGUARD_SHOPIFY_API_SECRET": "bench-api-secret", "DROPGUARD_SECRET_KEY": SECRET_KEY,
            "DROPGUARD_SANDBOX": "false", "DROPGUARD_LOG_LEVEL": "WARNING",
            "DROPGUARD_PUBLIC_URL": "http://127.0.0.1:9", **extra,
        }

    def create(self) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        """The database, the prefix's Redis keys and the embedded servers, gone."""
        try:
            with self._admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()
            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(match=self.prefix + "*", count=1000):
                client.delete(key)
        finally:
            if self.embedded is not None:
                self.embedded.stop()
