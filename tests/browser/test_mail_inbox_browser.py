"""The sandbox mail catcher's inbox in Chromium through the real server: a message sent over SMTP
is listed, opens with its headers, its HTML in a sandboxed frame and its text."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from app.config import get_settings
from tests.fixtures import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def test_inbox_lists_and_opens_a_message(live_server):
    playwright_api = pytest.importorskip("playwright.sync_api")
    to = f"zoe-{uuid.uuid4().hex[:8]}@example.com"
    message = EmailMessage()
    message["From"] = "Lumen <lumen@mail.example>"
    message["To"] = to
    message["Subject"] = "Votre commande #1042 est en route"
    message.set_content("Bonne nouvelle : la commande #1042 a été remise au transporteur.")
    message.add_alternative("<h1 id='inside'>Votre commande est en route !</h1><script>document.title='x'</script>",
                            subtype="html")
    with smtplib.SMTP(get_settings().smtp_host, get_settings().smtp_port, timeout=10) as smtp:
        smtp.send_message(message)
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"])
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            tab.goto(f"{live_server}/sandbox/mail/inbox?to={to}")
            tab.click("text=Votre commande #1042 est en route")
            assert "Lumen <lumen@mail.example>" in tab.locator("dl.headers").inner_text()
            frame = tab.frame_locator("iframe.html")
            assert frame.locator("#inside").inner_text() == "Votre commande est en route !"
            assert "remise au transporteur" in tab.locator("pre.text").inner_text()
            assert tab.title().startswith("Votre commande #1042")  # the message's script did not run
            tab.screenshot(path=str(ARTIFACTS / "mail-message.png"), full_page=True)
            tab.goto(f"{live_server}/sandbox/mail/inbox")
            assert tab.locator("#inbox tbody tr").count() >= 1
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / "mail-inbox.png"))
        finally:
            browser.close()
