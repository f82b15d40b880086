"""The sandbox mail catcher's inbox (issue 10: it was a raw JSON dump, 2.8 MB after 30 minutes):
bounded storage, a list, each message's HTML (sandboxed) and text."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient

from app.redis import get_redis
from app.sandbox import mail


def _raw(to: str, subject: str, html: str = "<p>Your order has <b>shipped</b>.</p>") -> bytes:
    message = EmailMessage()
    message["From"] = "Lumen <lumen@mail.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@example>"
    message["X-Dropguard-Stage"] = "shipped"
    message.set_content("Your order has shipped.\nTrack it: https://example.com/t/1")
    message.add_alternative(html, subtype="html")
    return bytes(message)


def _catch(to: str, subject: str, **kwargs) -> str:
    return mail.store_message(mail.parse_message(_raw(to, subject, **kwargs), mail_from="x@y", rcpt_tos=[to]))


@pytest.fixture
def inbox(app):
    yield TestClient(app)


def test_inbox_lists_and_opens_each_message(inbox):
    to = f"zoe-{uuid.uuid4().hex[:8]}@example.com"
    first = _catch(to, "Commande #1042 confirmée")
    second = _catch(to, "Votre commande #1042 est en route <script>")
    page = inbox.get("/sandbox/mail/inbox", params={"to": to})
    assert page.status_code == 200
    html = page.text
    assert html.index(f"/sandbox/mail/inbox/{second}") < html.index(f"/sandbox/mail/inbox/{first}"), "newest first"
    assert "&lt;script&gt;" in html and "<script>" not in html
    opened = inbox.get(f"/sandbox/mail/inbox/{second}")
    assert opened.status_code == 200 and "Lumen &lt;lumen@mail.example&gt;" in opened.text
    assert f'src="/sandbox/mail/inbox/{second}/html"' in opened.text and "Your order has shipped." in opened.text
    part = inbox.get(f"/sandbox/mail/inbox/{second}/html")
    assert part.text.strip() == "<p>Your order has <b>shipped</b>.</p>"
    assert part.headers["content-security-policy"].startswith("sandbox")  # its scripts never run
    text = inbox.get(f"/sandbox/mail/inbox/{second}/text")
    assert text.text.startswith("Your order has shipped.") and text.headers["content-type"].startswith("text/plain")
    assert inbox.get("/sandbox/mail/inbox/0123456789abcdef").status_code == 404
    assert inbox.get("/sandbox/mail/inbox/not-an-id/html").status_code == 404
    # The JSON list the tests and scripts read is still there.
    assert [m["id"] for m in inbox.get("/sandbox/mail", params={"to": to}).json()["messages"]] == [first, second]


def test_storage_is_bounded(monkeypatch):
    monkeypatch.setattr(mail, "KEEP", 5)
    # A list of its own: trimming the shared one would drop other tests' (and workers') messages.
    own = f"test-mail-ids-{uuid.uuid4().hex}"
    monkeypatch.setattr(mail, "_ids_key", lambda: own)
    to = f"bound-{uuid.uuid4().hex[:8]}@example.com"
    ids = [_catch(to, f"n{i}", html="<p>" + "x" * (mail.MAX_PART_CHARS + 500) + "</p>") for i in range(8)]
    client = get_redis()
    assert client.llen(own) == 5
    kept = [m["id"] for m in mail.messages()]
    assert kept[-5:] == ids[-5:] and ids[0] not in kept
    assert client.get(mail._message_key(ids[0])) is None, "a dropped message's body is deleted too"
    newest = mail.message(ids[-1])
    assert len(newest["html"]) == mail.MAX_PART_CHARS and newest["truncated"]
    assert 0 < client.ttl(mail._message_key(ids[-1])) <= mail.TTL_SECONDS
    # The recipient's list only names what is still kept.
    assert [m["subject"] for m in mail.messages(to)] == ["n3", "n4", "n5", "n6", "n7"]
    client.delete(own, *[mail._message_key(i) for i in ids])
