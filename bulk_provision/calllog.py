"""``--log-file``: one JSON line per API call. Never a secret: only what ``CallEvent`` holds."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bulk_provision.errors import ConfigError


@dataclass(frozen=True)
class CallEvent:
    operation: str
    partner_user_id: str
    attempt: int
    outcome: str
    http_status: int | None
    duration_ms: float


class CallLog:
    """Appends events to a file, one JSON object per line, safe to call from many threads."""

    def __init__(self, path: Path) -> None:
        try:
            self._file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"cannot write the log file {path}: {exc.strerror}") from exc
        self._lock = threading.Lock()

    def write(self, event: CallEvent) -> None:
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds")}
        record.update(asdict(event))
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
