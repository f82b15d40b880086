"""README's configuration table is generated from Settings and kept complete."""

from __future__ import annotations

from pathlib import Path

from app import ops

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_meaning():
    missing = [name for name, _, meaning in ops.settings_rows() if not meaning]
    assert not missing, f"give these settings a Field(description=...) in app/config.py: {missing}"


def test_readme_table_is_current():
    readme = (ROOT / "README.md").read_text()
    start = readme.index(ops.SETTINGS_START) + len(ops.SETTINGS_START)
    end = readme.index(ops.SETTINGS_END)
    assert readme[start:end].strip() == ops.settings_table(), "run `make settings-doc`"


def test_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")[1::2]
    assert len(blocks) == 1
    commands = [line.strip() for line in blocks[0].splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]
