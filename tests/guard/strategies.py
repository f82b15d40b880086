"""Hypothesis strategies for hostile outside text and JSON, and the profiles that bound them.

DROPGUARD_FUZZ_PROFILE=guard-thorough (by hand) draws 25 times more; the suite's profile keeps
the fuzzers to a few seconds each on two cores and is derandomised, so a run is repeatable."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "guard-suite", max_examples=6, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "guard-thorough", max_examples=150, deadline=None, print_blob=True, suppress_health_check=list(HealthCheck),
)
PROFILE = settings.get_profile(os.environ.get("DROPGUARD_FUZZ_PROFILE", "guard-suite"))

# What has broken parsers and databases before: NUL, lone surrogates, numbers out of a double's
# range, template and SQL syntax, right-to-left overrides, long runs.
NASTY = [
    "\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d", "1e999", "-1e999", "NaN", "Infinity", "%00", "%ff",
    "%ED%A0%80", "' OR 1=1 --", "{{ 7*7 }}", "{% raw %}", "<script>alert(1)</script>", "\u202egnp.exe",
    "9" * 400, "-0", "0x10", "#1001", "shop.myshopify.com", "../../etc/passwd", "\r\nSet-Cookie: a=b",
    "\ufeff", "\u0085", "\x7f", "é" * 300, "", " ", "null", "[]", "{}", "true",
]

hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=20),  # surrogates included
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.sampled_from(NASTY), min_size=2, max_size=4).map("".join),
)

_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), hostile_text,
)
hostile_value = st.recursive(
    _leaf, lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def to_bytes(value: Any) -> bytes:
    # allow_nan: NaN and Infinity are written as such, as a hostile sender would.
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def hostile_json_body(template: dict[str, Any] | None = None) -> st.SearchStrategy[bytes]:
    """A body that looks like the route's own (one member replaced by something hostile), or any
    hostile JSON, or JSON nested too deep, or bytes that are not JSON at all."""
    options = [
        hostile_value.map(to_bytes),
        st.integers(min_value=60, max_value=5000).map(lambda n: _deep(n).encode()),
        st.binary(max_size=64),
    ]
    if template:
        keys = sorted(template)
        options.append(st.tuples(st.sampled_from(keys), hostile_value).map(
            lambda kv: to_bytes({**template, kv[0]: kv[1]})))
        raw = st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", _deep(70), '"\\u0000"', '"\\ud800"'])
        options.append(st.tuples(st.sampled_from(keys), raw).map(
            lambda kv: to_bytes({**template, kv[0]: "__hostile__"}).replace(b'"__hostile__"', kv[1].encode())))
    return st.one_of(options)


def unique_ip() -> tuple[str, int]:
    """A client address of its own: the status lookup limits visitors by IP, and a fuzzer's
    hundreds of tries must not lock out the tests that come after it."""
    n = uuid.uuid4().int
    return f"198.18.{n % 250}.{(n >> 8) % 250 + 1}", 40000 + n % 20000
