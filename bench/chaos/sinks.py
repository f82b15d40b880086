"""What the chaos run listens with, on 127.0.0.1: the store's webhook URL (the store emulator's
signed webhooks are captured here, to be delivered by the run with its faults) and the SMTP
server the workers send customers' mail to (every message that left is counted)."""

from __future__ import annotations

import threading
from collections import Counter
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.embedded import free_port


class WebhookSink:
    def __init__(self) -> None:
        self.captured: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink._lock:
                    sink.captured.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/shopify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


class MailSink:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.by_message_id: Counter[str] = Counter()
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
                message = message_from_bytes(envelope.original_content or envelope.content)
                message_id = str(message.get("Message-ID") or "")
                with sink._lock:
                    sink.by_message_id[message_id] += 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
