"""Long-lived HTTP connections: one pool per process and target, one SSL context per process.

Every `httpx.Client()` built for a call made its own SSL context, loading the CA bundle (about
50 ms of CPU, more under load, even for http:// URLs), and its own connection pool, so no
connection was ever reused: that was the largest single cost of an order in the worker
(bench/pipeline; figures in docs/notes/perf.md). Callers still build their own `httpx.Client`
(base URL, headers, timeouts and recording differ per caller and are cheap), through `client()`,
which hands it the process's shared transport: the pool for the request's origin (scheme, host,
port), created on first use. Closing such a client leaves the shared pools open.

A pool belongs to the process that opened it: a forked child (a Celery pool process) opens its
own, never a socket of its parent's. A test that injects a transport keeps it (`transport=`).
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any

import httpx

# Per target: enough for a worker process's concurrent calls to one store or supplier; idle
# connections are closed after KEEPALIVE_SECONDS (servers drop theirs sooner or later anyway).
MAX_CONNECTIONS = 20
KEEPALIVE_SECONDS = 30.0

_lock = threading.Lock()
_pid: int | None = None
_ssl: ssl.SSLContext | None = None
_pools: dict[tuple[str, str, int | None], httpx.HTTPTransport] = {}


def _own_process() -> None:
    """Forget pools and context inherited through fork (called with the lock held)."""
    global _pid, _ssl
    if _pid != os.getpid():
        _pid, _ssl = os.getpid(), None
        _pools.clear()  # the parent's sockets: never used, never closed here


def ssl_context() -> ssl.SSLContext:
    """The process's one verifying SSL context (the CA bundle is loaded once)."""
    global _ssl
    with _lock:
        _own_process()
        if _ssl is None:
            _ssl = httpx.create_ssl_context()
        return _ssl


def _pool(url: httpx.URL) -> httpx.HTTPTransport:
    origin = (url.scheme, url.host, url.port)
    with _lock:
        _own_process()
        pool = _pools.get(origin)
        if pool is None:
            global _ssl
            if _ssl is None:
                _ssl = httpx.create_ssl_context()
            pool = _pools[origin] = httpx.HTTPTransport(
                verify=_ssl,
                limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS,
                                    keepalive_expiry=KEEPALIVE_SECONDS),
            )
        return pool


class SharedTransport(httpx.BaseTransport):
    """Sends each request through its origin's shared pool; close() leaves the pools open."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _pool(request.url).handle_request(request)

    def close(self) -> None:
        pass


_shared = SharedTransport()


def shared_transport() -> httpx.BaseTransport:
    return _shared


def client(*, transport: httpx.BaseTransport | None = None, **options: Any) -> httpx.Client:
    """An httpx.Client on the shared pools (or on `transport`, which tests inject)."""
    return httpx.Client(transport=transport or _shared, **options)


def close_all() -> None:
    """Close this process's pools (at shutdown, and between tests that count connections)."""
    with _lock:
        _own_process()
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
