"""Status links: signed, unguessable, and anything not issued by us is rejected."""

from __future__ import annotations

import base64

import pytest

from app.config import get_settings
from app.status import tokens
from tests.notifications.helpers import paid_order


def test_round_trip_and_url():
    token = tokens.make_token(42, 7)
    assert len(token) == tokens.TOKEN_LENGTH and "=" not in token
    assert tokens.parse_token(token) == (42, 7)
    assert tokens.order_id_from_token(token) == 42
    assert tokens.make_token(43, 7) != token and tokens.make_token(42, 8) != token


def test_url_uses_public_base(db, shop):
    order = paid_order(db, shop)
    url = tokens.status_url(order)
    assert url.startswith(get_settings().public_base + "/status/")
    assert tokens.order_id_from_token(url.rsplit("/", 1)[1]) == order.id


def _flip(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize("index", [0, 5, 20, 30, 42, 43])
def test_any_changed_character_is_rejected(index):
    token = tokens.make_token(1001, 3)
    assert tokens.order_id_from_token(_flip(token, index)) is None


def test_swapping_ids_without_the_secret_is_rejected():
    raw = base64.urlsafe_b64decode(tokens.make_token(1001, 3) + "=")
    forged = raw[:1] + (1002).to_bytes(8, "big") + raw[9:]
    assert tokens.order_id_from_token(base64.urlsafe_b64encode(forged).rstrip(b"=").decode()) is None


def test_another_secret_does_not_verify(monkeypatch):
    token = tokens.make_token(5, 5)
    monkeypatch.setattr(get_settings(), "secret_key", "another-secret-key-xyz")
    assert tokens.order_id_from_token(token) is None


@pytest.mark.parametrize(
    "bad", ["", "abc", "x" * 44, "é" * 44, tokens.make_token(1, 1) + "A", tokens.make_token(1, 1)[:-1], "%00" * 15]
)
def test_garbage_is_rejected(bad):
    assert tokens.order_id_from_token(bad) is None
