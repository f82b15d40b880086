"""`dropguard worker` with cProfile in every pool process (bench/pipeline --profile): each process
writes its profile to $DROPGUARD_BENCH_PROFILE_DIR/<pid>.prof every five tasks."""

from __future__ import annotations

import cProfile
import os
import sys
import tempfile

from celery import signals

_profile = cProfile.Profile()


@signals.worker_process_init.connect
def _start(**_: object) -> None:
    _profile.enable()


_done = [0]


@signals.task_postrun.connect
def _dump(**_: object) -> None:
    # Pool processes are stopped without a hook that runs reliably: the profile is written as it goes.
    _done[0] += 1
    if _done[0] % 5 == 0:
        _profile.dump_stats(os.path.join(os.environ["DROPGUARD_BENCH_PROFILE_DIR"], f"{os.getpid()}.prof"))
        _profile.enable()  # dump_stats stops the profiler


if __name__ == "__main__":
    # The CLI re-executes itself to set this before prometheus_client loads; set here, it stays us.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="dropguard-bench-metrics-"))
    from app.cli import main

    sys.argv = ["dropguard", *sys.argv[1:]]
    main()
