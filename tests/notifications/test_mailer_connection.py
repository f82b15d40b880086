"""The mailer keeps one SMTP connection per process (app/notifications/mailer.py): messages after
the first go on it, and a kept connection the server has since closed costs nothing but a new one
(the message is handed over exactly once)."""

from __future__ import annotations

from email.message import EmailMessage

from aiosmtpd.controller import Controller

from app.notifications import mailer
from tests.notifications import helpers
from tests.notifications.helpers import Catcher


class CountingCatcher(Catcher):
    connections: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        CountingCatcher.connections += 1
        session.host_name = hostname
        return responses


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "shop@example.com", "ada@example.com", f"Order {n}"
    message.set_content("Your order is on its way.")
    return message


def test_messages_share_one_connection_and_a_closed_one_is_replaced(monkeypatch):
    from app.config import get_settings

    mailer.close_kept()
    catcher = CountingCatcher(port=helpers.free_port())
    CountingCatcher.connections = 0
    monkeypatch.setattr(get_settings(), "smtp_port", catcher.port)
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    try:
        for n in range(3):
            assert mailer.deliver(_message(n), recipient="ada@example.com").startswith("250")
        assert len(catcher.messages) == 3 and CountingCatcher.connections == 1
    finally:
        controller.stop()  # the server goes away: the kept connection is now dead
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    try:
        assert mailer.deliver(_message(3), recipient="ada@example.com").startswith("250")
        assert [m["Subject"] for m in catcher.messages] == ["Order 0", "Order 1", "Order 2", "Order 3"]
        assert CountingCatcher.connections == 2
    finally:
        mailer.close_kept()
        controller.stop()
