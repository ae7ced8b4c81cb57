"""What one row needs of the engine that runs it: a small Protocol, so that ``row`` does not
import ``engine`` (which starts the rows) and the two stay one-way."""

from __future__ import annotations

import threading
from typing import Protocol

from bulk_provision.glance.api import GlanceApi
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import RowResult
from bulk_provision.provision.retry import Health
from bulk_provision.settings.engine import EngineOptions


class RowContext(Protocol):
    """The engine as a row sees it: Glance, the journal, the shared limits and the reporting."""

    api: GlanceApi
    journal: Checkpoint
    options: EngineOptions
    stop: threading.Event
    health: Health

    def remember(self, result: RowResult) -> None:
        """Keep a final outcome Glance gave before the journal records it."""

    def report(self, result: RowResult) -> None:
        """Tell the progress display a row ended."""

    def backoff(self, failures: int, retry_after: float | None) -> None:
        """Wait before the next attempt (or until the run stops)."""

    def notice(self, message: str | None) -> None:
        """Show an operator notice (a pause, a long wait)."""

    def acquire(self) -> None:
        """Take a rate-limit slot for one request."""

    def password(self, key: str) -> str | None:
        """The password for row ``key``, if it has one to send."""
