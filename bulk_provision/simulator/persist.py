"""Optional JSON state file: loaded at start, rewritten atomically soon after each change."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError

SAVE_INTERVAL = 0.2  # seconds between two rewrites while changes keep coming


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state at ``path``, None if there is no file; ConfigError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read simulator state {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version 1 simulator state")
        return data
    except ValueError as exc:
        raise ConfigError(f"simulator state {path} is not usable: {exc}") from exc


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON beside ``path`` and rename it into place."""
    fd, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, ensure_ascii=False))  # C encoder: much faster
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class StateSaver:
    """A background thread that saves ``snapshot()`` to ``path`` whenever ``mark_dirty`` was
    called, at most every SAVE_INTERVAL seconds; ``close()`` saves what is left and stops it."""

    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._snapshot = snapshot
        self._dirty = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="glance-sim-state", daemon=True)
        self._thread.start()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._dirty.wait()
            if self._closing.is_set():
                break
            self._dirty.clear()
            started = time.monotonic()
            try:
                self.save()
            except OSError:
                self._dirty.set()  # retried next round, and by close(), which reports it
            # A big state takes a while to write: keep the saver's share of the CPU small.
            self._closing.wait(max(SAVE_INTERVAL, 4 * (time.monotonic() - started)))

    def save(self) -> None:
        write_atomically(self.path, self._snapshot())

    def close(self) -> None:
        self._closing.set()
        self._dirty.set()
        self._thread.join()
        self.save()
