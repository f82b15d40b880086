"""Settings: a missing or malformed setting is one clear line naming it, in code and on the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.config import ConfigError, get_settings
from tests.fixtures import ROOT


@pytest.fixture
def fresh_settings(monkeypatch, tmp_path):
    """get_settings() re-reads the environment inside the test; the run's settings come back after."""
    monkeypatch.chdir(tmp_path)  # no stray .env file can supply what the test removes
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
    get_settings()


@pytest.mark.parametrize("name", ["DROPGUARD_DATABASE_URL", "DROPGUARD_REDIS_URL", "DROPGUARD_SECRET_KEY"])
def test_missing_setting_is_a_config_error_naming_it(fresh_settings, name):
    fresh_settings.delenv(name)
    with pytest.raises(ConfigError, match=f"^{name} is required but not set$"):
        get_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DROPGUARD_DATABASE_URL", "sqlite:///dropguard.db"),
        ("DROPGUARD_REDIS_URL", "http://127.0.0.1:6379"),
        ("DROPGUARD_SMTP_PORT", "70000"),
        ("DROPGUARD_SHOPIFY_ADMIN_URL", "https://admin.example.com"),
    ],
)
def test_malformed_setting_is_a_config_error_naming_it(fresh_settings, name, value):
    fresh_settings.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name} is invalid"):
        get_settings()


def test_settings_are_restored_after_the_tests_above():
    assert get_settings().database_url == os.environ["DROPGUARD_DATABASE_URL"]


def test_cli_without_database_url_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DROPGUARD_DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "ledger", "verify"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "dropguard: DROPGUARD_DATABASE_URL is required but not set"


def test_database_pool_is_fixed_size_from_settings(fresh_settings):
    # Overflow connections are closed whenever the pool is full: under steady load that meant a
    # new PostgreSQL backend per few requests. The pool's shape comes from the settings alone.
    from app.db import get_engine, reset_engine

    fresh_settings.setenv("DROPGUARD_DATABASE_POOL_SIZE", "7")
    reset_engine()
    try:
        pool = get_engine().pool
        assert (pool.size(), pool._max_overflow) == (7, 0)
    finally:
        fresh_settings.delenv("DROPGUARD_DATABASE_POOL_SIZE")
        get_settings.cache_clear()
        reset_engine()


def test_database_pool_size_out_of_range_names_the_setting(fresh_settings):
    fresh_settings.setenv("DROPGUARD_DATABASE_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="DROPGUARD_DATABASE_POOL_SIZE"):
        get_settings()
