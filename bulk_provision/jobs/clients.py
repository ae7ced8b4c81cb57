"""The Glance client of a run or an undo, opened on first use and closed at the end.

A run whose rows are all done never connects (nor asks for a password); one that does gets a
single client shared by the engine's workers. ``--log-file`` hooks every call the client makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bulk_provision.glance.client import GlanceClient
from bulk_provision.glance.models import CallRecord
from bulk_provision.provision.calllog import CallLog

OnCall = Callable[[CallRecord], None]
Opener = Callable[[OnCall | None], GlanceClient]


@contextmanager
def lazy_client(
    opener: Opener, *, log_file: Path | None = None, warn: Callable[[str], None] | None = None,
) -> Iterator[Callable[[], GlanceClient]]:
    """A factory for the one client ``opener`` makes (given the call-log hook, or None); the
    client is closed and the log flushed on leaving. A log that failed meanwhile is a warning
    through ``warn``, never a failure: the log is a courtesy."""
    call_log = CallLog(log_file) if log_file else None
    on_call = call_log.record if call_log is not None else None
    clients: list[GlanceClient] = []

    def client() -> GlanceClient:
        if not clients:
            clients.append(opener(on_call))
        return clients[0]

    try:
        yield client
    finally:
        for made in clients:
            made.close()
        if call_log is not None:
            call_log.close()
            if call_log.failure is not None and warn is not None:
                warn(call_log.failure)
