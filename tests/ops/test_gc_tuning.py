"""Start-up objects are frozen out of the garbage collector's sight (app/gc_tuning.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from app.gc_tuning import freeze_startup_objects


def test_web_app_start_up_freezes_what_it_imported():
    # A fresh interpreter: this test process may have frozen its own objects already.
    script = textwrap.dedent(
        """
        import gc
        from fastapi.testclient import TestClient
        from app.main import create_app

        assert gc.get_freeze_count() == 0
        with TestClient(create_app()) as client:
            assert client.get("/healthz").status_code == 200
            print(gc.get_freeze_count())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # Tens of thousands of framework and model objects; a handful would mean nothing was frozen.
    assert int(done.stdout.strip().splitlines()[-1]) > 50_000


def test_freezing_twice_pins_nothing_new():
    first = freeze_startup_objects()
    garbage_to_be = [{"n": n} for n in range(1000)]
    assert freeze_startup_objects() == first
    del garbage_to_be
