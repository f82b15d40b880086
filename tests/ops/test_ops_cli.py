"""The dropguard command: help for every command; start-up errors end in one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from app.cli import cli

ROOT = Path(__file__).resolve().parents[2]
def _command_paths(group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command and sub-command of the CLI, so that a new one is covered without listing it."""
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append([*prefix, name])
        if hasattr(command, "commands"):  # a group (typer has its own click underneath)
            paths += _command_paths(command, (*prefix, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(cli))


def test_every_documented_command_exists():
    for expected in (["serve"], ["worker"], ["beat"], ["run"], ["migrate"], ["simulate"], ["shops", "add"],
                     ["ledger", "verify"]):
        assert expected in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def _run(argv: list[str], *, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _without_settings() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPGUARD_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _assert_one_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["beat"], ["migrate"], ["ledger", "verify"]], ids=" ".join)
def test_missing_setting_is_one_line(command, tmp_path):
    # cwd without an .env file, so nothing but the environment is read.
    env = _without_settings()
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    _assert_one_line(result, "DROPGUARD_DATABASE_URL is required but not set")


def test_uvicorn_factory_missing_setting_is_one_line(tmp_path):
    env = _without_settings()
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
    )
    _assert_one_line(result, "DROPGUARD_DATABASE_URL is required but not set")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DROPGUARD_DATABASE_URL", "mysql://root@127.0.0.1/x", "DROPGUARD_DATABASE_URL is invalid"),
        ("DROPGUARD_REDIS_URL", "http://127.0.0.1:6379", "DROPGUARD_REDIS_URL is invalid"),
        ("DROPGUARD_PUBLIC_URL", "not a url", "DROPGUARD_PUBLIC_URL is invalid"),
        ("DROPGUARD_SMTP_PORT", "99999", "DROPGUARD_SMTP_PORT is invalid"),
        ("DROPGUARD_SECRET_KEY", "short", "DROPGUARD_SECRET_KEY is invalid"),
    ],
)
def test_bad_setting_is_one_line(name, value, message):
    result = _run(["-m", "app.cli", "migrate"], env={**os.environ, name: value})
    _assert_one_line(result, message)


def test_run_with_bad_setting_is_one_line():
    # Both URLs are set, so nothing embedded is started before the settings are read.
    result = _run(["-m", "app.cli", "run", "--port", "1"], env={**os.environ, "DROPGUARD_PUBLIC_URL": "nope"})
    _assert_one_line(result, "DROPGUARD_PUBLIC_URL is invalid")


def test_unreachable_database_is_one_line():
    env = {**os.environ, "DROPGUARD_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    result = _run(["-m", "app.cli", "migrate"], env=env)
    _assert_one_line(result, "cannot use the database at DROPGUARD_DATABASE_URL")


def test_shops_add_bad_domain():
    result = _run(["-m", "app.cli", "shops", "add", "not-a-shop.example.com", "--access-token", "x"], env=dict(os.environ))
    _assert_one_line(result, "not-a-shop.example.com")
