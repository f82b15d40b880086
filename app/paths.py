"""Where the project's files are, wherever it runs from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "alembic.ini"
TEMPLATES = ROOT / "templates"
