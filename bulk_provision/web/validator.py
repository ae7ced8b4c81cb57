"""Reading and validating an uploaded roster in a worker process, not in the server's own.

Validating a big or hostile file costs seconds of CPU in pandas, pandera and Python. In the
server's process that would hold the GIL the event loop needs, and every other user's page and
every run's progress would wait. A file that makes a reader abort (a native library running out
of memory) would take the whole server and its runs down. So the page hands the work to a small
pool of worker processes (``spawn``: nothing of the server's state is inherited) and waits in a
thread: the server keeps answering, and a worker that dies costs only that upload, which gets a
clear message, and the pool is made anew.

The worker gets what validation needs and nothing more: the settings and the environment
without any secret (validation sends nothing to Glance; the roles Glance lists are fetched by the
server and passed in). One pool serves the whole process (every app a test suite creates), made
when first needed.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

WORKERS = 2  # uploads validated at once; more wait their turn (uploads are capped at 4)
SECRET_ENV = ("GLANCE_PARTNER_PW", "GLANCE_API_KEY", "GLANCE_SMTP_PASSWORD")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


class WorkerDied(Exception):
    """The worker validating a file ended without an answer (killed, out of memory, aborted)."""


def without_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as a worker gets it: no password, API key or SMTP password."""
    return {k: v for k, v in env.items() if k not in SECRET_ENV}


def in_worker(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``function(*args)`` in a worker process (module-level, picklable arguments); WorkerDied
    when the worker ended without answering (the pool is then made anew for the next call)."""
    pool = _get_pool()
    try:
        return pool.submit(function, *args).result()
    except BrokenProcessPool as exc:
        _drop_pool(pool)
        raise WorkerDied(str(exc)) from exc


def _forget_secrets() -> None:
    """In each worker, first: the secrets the server's environment holds are dropped (a
    spawned process inherits the environment)."""
    for name in SECRET_ENV:
        os.environ.pop(name, None)


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_forget_secrets)
        return _pool


def _drop_pool(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown() -> None:
    with _lock:
        pool = _pool
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
