"""Running Alembic from code (the CLI's `migrate`, `run` and the tests use it)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import get_settings
from app.paths import ALEMBIC_INI


def alembic_config() -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = get_settings().database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head() -> None:
    command.upgrade(alembic_config(), "head")


def downgrade_to(revision: str) -> None:
    command.downgrade(alembic_config(), revision)
