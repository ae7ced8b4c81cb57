"""``--log-file``: one JSON line per API call, fed by the client's ``on_call`` hook.

Every HTTP exchange is logged (NewUser, UpdateUser, DeleteUser, each ShowUsers page, ShowRoles),
with the attempt number the engine passed for that row (``null`` for read-only calls). Never a
secret: only what ``CallRecord`` holds.

The log is a courtesy: a write that fails (a full disk) must never cost an answer Glance gave, so
the hook never raises; logging stops and ``failure`` says why, for one warning at the end.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bulk_provision.errors import ConfigError
from bulk_provision.glance.models import CallRecord
from bulk_provision.settings.paths import create_private


class CallLog:
    """Appends one JSON object per line; safe to call from many threads."""

    def __init__(self, path: Path) -> None:
        try:
            fd = create_private(path, os.O_WRONLY | os.O_APPEND)  # it names every user: 0600
            self._file: TextIO = open(fd, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"cannot write the log file {path}: {exc.strerror}") from exc
        self._lock = threading.Lock()
        self._path = path
        self.failure: str | None = None

    def record(self, call: CallRecord) -> None:
        """The ``GlanceClient(on_call=...)`` hook."""
        line = json.dumps(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "operation": call.operation,
                "partner_user_id": call.partner_user_id,
                "attempt": call.attempt,
                "outcome": call.outcome,
                "http_status": call.http_status,
                "duration_ms": round(call.duration_s * 1000, 1),
                "maybe_committed": call.maybe_committed,
            },
            ensure_ascii=False,
        )
        with self._lock:
            if self.failure is not None or self._file.closed:
                return
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except (OSError, ValueError) as exc:
                self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        self.failure = f"the log file {self._path} could not be written ({reason}); logging stopped"
        try:
            self._file.close()
        except (OSError, ValueError):
            pass  # what could not be flushed is lost; the run's answers are not

    def close(self) -> None:
        with self._lock:
            if self._file.closed:
                return
            try:
                self._file.close()
            except (OSError, ValueError) as exc:
                if self.failure is None:
                    self._give_up(exc)
