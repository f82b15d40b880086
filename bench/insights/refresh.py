"""One process's share of the benchmark's refresh (a module of its own: spawned processes import it)."""

from __future__ import annotations

import os
import time


def refresh_slice(args: tuple[list[int], str]) -> float:
    ids, url = args
    os.environ["DROPGUARD_DATABASE_URL"] = url
    import app.models  # noqa: F401 - every mapper configured
    from app.db import get_sessionmaker, reset_engine
    from app.insights import aggregates

    reset_engine()
    started = time.monotonic()
    maker = get_sessionmaker()
    with maker() as session:
        # One transaction per order, as the analytics queue runs it: a transaction spanning several
        # orders would hold aggregate rows in an order another process can cross (deadlock).
        for order_id in ids:
            aggregates.refresh_order(session, order_id)
            session.commit()
    return time.monotonic() - started
