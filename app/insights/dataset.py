"""The labelled complaint set shipped in app/insights/data/complaints (see its README.md).

The held-out part is chosen by a hash of each message's normalised text, so it is the same on
every machine and does not move when lines are added to a file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data" / "complaints"
LANGUAGES = ("en", "fr", "es", "de")
MIXED_FILE = "mixed"
# One message in HELD_OUT_ONE_IN is kept out of training to report the figures.
HELD_OUT_ONE_IN = 4
_HEADER = re.compile(r"\b(reason|language)\s*:\s*(\w+)")


@dataclass(frozen=True)
class Example:
    text: str
    reason: str
    urgent: bool
    language: str
    mixed: bool = False

    @property
    def held_out(self) -> bool:
        digest = hashlib.sha256(" ".join(self.text.lower().split()).encode()).digest()
        return digest[0] % HELD_OUT_ONE_IN == 0


class DatasetError(ValueError):
    """A line of the labelled set that cannot be read (names the file and line)."""


def parse(lines: list[str], *, name: str, language: str | None, reasons: tuple[str, ...]) -> list[Example]:
    mixed = language is None
    state: dict[str, str | None] = {"reason": None, "language": language}
    examples = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            for key, value in _HEADER.findall(line):
                state[key] = value
            if state["reason"] not in reasons:
                raise DatasetError(f"{name}:{number}: unknown reason {state['reason']!r}")
            if state["language"] is not None and state["language"] not in LANGUAGES:
                raise DatasetError(f"{name}:{number}: unknown language {state['language']!r}")
            continue
        urgent = line.startswith("!")
        text = line.lstrip("!").strip()
        if state["reason"] is None or state["language"] is None:
            raise DatasetError(f"{name}:{number}: a message before its '# reason:' (and language) header")
        examples.append(Example(text=text, reason=str(state["reason"]), urgent=urgent,
                                language=str(state["language"]), mixed=mixed))
    return examples


@lru_cache(maxsize=1)
def load() -> tuple[Example, ...]:
    from app.insights.classifier import REASONS

    examples: list[Example] = []
    for language in (*LANGUAGES, MIXED_FILE):
        path = DATA_DIR / f"{language}.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
        examples.extend(parse(lines, name=path.name, language=None if language == MIXED_FILE else language,
                              reasons=REASONS))
    return tuple(examples)


def training_part(examples: tuple[Example, ...] | None = None) -> list[Example]:
    return [e for e in (examples or load()) if not e.held_out]


def held_out_part(examples: tuple[Example, ...] | None = None) -> list[Example]:
    return [e for e in (examples or load()) if e.held_out]
