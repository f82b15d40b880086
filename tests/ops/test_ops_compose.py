"""docker-compose.yml and the image: the scaled shape runs the same commands, configured by DROPGUARD_* only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_services_and_commands(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert _command(services["migrate"]).startswith("dropguard migrate")
    assert _command(services["web"]).startswith("dropguard serve")
    assert "--host 0.0.0.0" in _command(services["web"])
    assert _command(services["beat"]) == "dropguard beat"
    workers = [name for name, service in services.items() if _command(service).startswith("dropguard worker")]
    assert "worker" in workers
    # Between them the workers consume every queue the app routes tasks to.
    from app.queues import QUEUES

    consumed = set()
    for name in workers:
        match = re.search(r"--queues (\S+)", _command(services[name]))
        consumed |= set(match.group(1).split(",")) if match else set(QUEUES)
    assert consumed >= set(QUEUES)


def test_app_services_start_after_migrations(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart") == "no"


def test_configured_only_through_known_settings(compose):
    known = {"DROPGUARD_" + name.upper() for name in Settings.model_fields}
    app_services = [s for s in compose["services"].values() if _command(s).startswith("dropguard")]
    assert app_services
    for service in app_services:
        environment = service["environment"]
        names = set(environment) if isinstance(environment, dict) else {e.split("=", 1)[0] for e in environment}
        assert {n for n in names if not n.startswith("DROPGUARD_")} == set()
        unknown = names - known
        assert not unknown, f"docker-compose.yml sets variables Settings does not define: {sorted(unknown)}"
        required = {"DROPGUARD_" + n.upper() for n, f in Settings.model_fields.items() if f.is_required()}
        assert required <= names, f"missing required settings: {sorted(required - names)}"
        assert str(environment["DROPGUARD_SANDBOX"]).lower() == "false"


def test_every_variable_mentioned_anywhere_exists():
    text = (ROOT / "docker-compose.yml").read_text()
    known = {"DROPGUARD_" + name.upper() for name in Settings.model_fields}
    mentioned = set(re.findall(r"DROPGUARD_[A-Z0-9_]+", text))
    assert mentioned - known == set()


def test_image_installs_the_project_editable():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("alembic.ini", "migrations", "templates", "app"):
        assert re.search(rf"^COPY {path}\b", dockerfile, re.MULTILINE), path
    # app/paths.py finds alembic.ini and templates beside the package, so the install is editable.
    assert "pip install --no-deps -e ." in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)


def test_env_file_only_passes_through(compose):
    # .env may add settings but is optional, so `docker compose up` works with exported variables.
    for name in ("web", "worker", "beat", "migrate"):
        assert {"path": ".env", "required": False} in compose["services"][name]["env_file"]


def test_postgres_takes_the_connections_of_the_documented_scale(compose):
    # `--scale web=3` (the compose header and the README): each web process keeps both its pools.
    services = compose["services"]
    max_connections = int(re.search(r"max_connections=(\d+)", _command(services["postgres"])).group(1))
    web_processes = 3 * int(re.search(r"--workers (\d+)", _command(services["web"])).group(1))
    fields = Settings.model_fields
    per_web_process = fields["database_pool_size"].default + fields["ingest_pool_size"].default
    worker_processes = 2 * (4 + 8) + 2  # two of each worker service, their pool processes and parents
    assert web_processes * per_web_process + worker_processes * 2 <= max_connections
