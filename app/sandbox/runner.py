"""Background work of the emulators (webhook retries, supplier lifecycle), durable in Redis.

Jobs live in a sorted set scored by due time, so a restart loses nothing and several web
processes can each run a runner: a job is claimed by moving its score a lease into the future
(atomically, in Lua), and a runner that dies mid-job leaves it to be claimed again after the lease.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.redis import get_redis, key

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
POLL_SECONDS = 0.05
WORKERS = 8

# Claim due jobs by pushing their score past the lease; returns their ids and bodies.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    table.insert(out, id)
    table.insert(out, body)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""

Handler = Callable[[dict[str, Any]], None]
_handlers: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of one kind (modules register at import)."""

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def _handler_for(job: dict[str, Any]) -> Handler | None:
    """The job's handler, importing the module that registers it if this process has not yet
    (a job may be run by a process that never touched that emulator). Only sandbox modules."""
    kind, module = job.get("kind"), job.get("module") or ""
    if kind not in _handlers and module.startswith("app.sandbox."):
        importlib.import_module(module)
    return _handlers.get(kind)


def _queue_key() -> str:
    return key("sandbox", "jobs")


def _data_key() -> str:
    return key("sandbox", "jobs", "data")


def schedule(kind: str, payload: dict[str, Any], *, delay: float = 0.0, job_id: str | None = None) -> str:
    """Persist a job to run after `delay` seconds in whichever process runs a runner."""
    job_id = job_id or uuid.uuid4().hex
    registered = _handlers.get(kind)
    body = json.dumps({"kind": kind, "payload": payload, "module": registered.__module__ if registered else None})
    pipe = get_redis().pipeline(transaction=True)
    pipe.hset(_data_key(), job_id, body)
    pipe.zadd(_queue_key(), {job_id: time.time() + delay})
    pipe.execute()
    return job_id


def _finish(job_id: str) -> None:
    pipe = get_redis().pipeline(transaction=True)
    pipe.zrem(_queue_key(), job_id)
    pipe.hdel(_data_key(), job_id)
    pipe.execute()


def pending_jobs() -> int:
    return int(get_redis().zcard(_queue_key()))


class Runner(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="sandbox-runner", daemon=True)
        self._stop_event = threading.Event()
        self._slots = threading.BoundedSemaphore(WORKERS)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="sandbox-job")
        self._claim = get_redis().register_script(_CLAIM)

    def stop(self) -> None:
        self._stop_event.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _free_slots(self) -> int:
        # Claim only what can start now: a claimed job waiting in a queue would outlive its lease.
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        return free

    def _run_job(self, job_id: str, body: str) -> None:
        try:
            job = json.loads(body)
            function = _handler_for(job)
            if function is None:
                log.error("sandbox.unknown_job", extra={"kind": job.get("kind")})
            else:
                function(job["payload"])
        except Exception:
            log.exception("sandbox.job_failed")
        finally:
            # A job that raised is dropped, not retried forever; handlers schedule their own retries.
            try:
                _finish(job_id)
            finally:
                self._slots.release()

    def run(self) -> None:
        while not self._stop_event.is_set():
            free = self._free_slots()
            claimed: list[bytes] = []
            try:
                if free:
                    now = time.time()
                    claimed = self._claim(
                        keys=[_queue_key(), _data_key()], args=[now, now + LEASE_SECONDS, free]
                    )
            except Exception:
                log.exception("sandbox.runner_claim_failed")
            pairs = [(claimed[i].decode(), claimed[i + 1].decode()) for i in range(0, len(claimed), 2)]
            for _ in range(free - len(pairs)):
                self._slots.release()
            for job_id, body in pairs:
                try:
                    self._pool.submit(self._run_job, job_id, body)
                except RuntimeError:  # pool shut down while stopping; the lease hands it on
                    self._slots.release()
            if not pairs:
                self._stop_event.wait(POLL_SECONDS)


_lock = threading.Lock()
_runner: Runner | None = None
_runner_pid: int | None = None


def ensure_runner() -> Runner:
    """Start this process's runner once (again after a fork, whose child has no threads)."""
    global _runner, _runner_pid
    if _runner is not None and _runner_pid == os.getpid() and _runner.is_alive():
        return _runner
    with _lock:
        if _runner is None or _runner_pid != os.getpid() or not _runner.is_alive():
            # The handlers live in these modules; importing here registers them before any job runs.
            from app.sandbox import delivery  # noqa: F401  (cycle: delivery imports this module)
            from app.sandbox.supplier import lifecycle  # noqa: F401  (same cycle)

            _runner, _runner_pid = Runner(), os.getpid()
            _runner.start()
        return _runner


def stop_runner() -> None:
    global _runner
    with _lock:
        if _runner is not None and _runner_pid == os.getpid():
            _runner.stop()
        _runner = None
