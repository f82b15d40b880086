"""An httpx transport that notes every exchange as a Call, for the ledger (no bodies: they hold
addresses and credentials)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import httpx

from app import http_clients
from app.external_calls import Call
from app.metrics import EXTERNAL_CALLS


def _path(request: httpx.Request) -> str:
    # The AliExpress gateway takes every call at /sync; the API name in the form says which one.
    path = request.url.path
    if path.endswith("/sync") and request.content:
        method = parse_qs(request.content.decode("utf-8", "replace")).get("method")
        if method:
            return f"{path}?method={method[0]}"
    return path


class RecordingTransport(httpx.BaseTransport):
    def __init__(self, calls: list[Call], inner: httpx.BaseTransport | None = None) -> None:
        # Without a test's transport, the process's shared pools (app/http_clients.py).
        self.calls, self._inner = calls, inner or http_clients.shared_transport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = Call(method=request.method, path=_path(request), status=None, duration_ms=0)
        self.calls.append(call)
        started = time.monotonic()
        try:
            response = self._inner.handle_request(request)
            call.status = response.status_code
            return response
        except httpx.TimeoutException as error:
            call.error = f"timeout: {type(error).__name__}"
            raise
        except httpx.TransportError as error:
            call.error = f"transport: {type(error).__name__}"
            raise
        finally:
            call.duration_ms = round((time.monotonic() - started) * 1000)
            outcome = f"{call.status // 100}xx" if call.status else ("timeout" if call.error and
                                                                        call.error.startswith("timeout") else "error")
            EXTERNAL_CALLS.labels("supplier", outcome).inc()

    def close(self) -> None:
        self._inner.close()


def http_client(calls: list[Call], timeout: float, transport: httpx.BaseTransport | None) -> httpx.Client:
    return httpx.Client(
        transport=RecordingTransport(calls, transport),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
    )
