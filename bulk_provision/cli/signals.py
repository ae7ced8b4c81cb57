"""Ctrl-C and SIGTERM during a run or an undo: stop sending, let requests in flight finish.

On Windows there is no SIGTERM from outside (Task Scheduler's "End" and ``taskkill /F`` kill the
process outright, which the journal survives); Ctrl+C is SIGINT and Ctrl+Break is SIGBREAK, and
both stop the run the same way.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: what stops a run: Ctrl+C, SIGTERM (POSIX: kill, systemd), Ctrl+Break (Windows only)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM,
                *((signal.SIGBREAK,) if hasattr(signal, "SIGBREAK") else ()))


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to stop; in-flight requests finish, nothing new is sent."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: FrameType | None) -> None:
        # Never raise into the run: what Glance confirms must still reach the checkpoint and
        # the workbook. In-flight requests end within --timeout; kill -9 is safe meanwhile.
        again = stop.is_set()
        stop.set()
        sys.stderr.write(
            "\nbulk-provision: still stopping: waiting for requests in flight (at most --timeout "
            "seconds); kill -9 is safe too, the next run checks them\n" if again else
            "\nbulk-provision: stopping: nothing new is sent; waiting for requests in flight, "
            "then writing the results\n"
        )

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
