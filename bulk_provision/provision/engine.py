"""Workers executing planned actions against Glance, journaling every outcome.

Exactly once: every step of a row is a transition of the journal's lifecycle (lifecycle.py):
``sending`` is committed before a request leaves and the answer once it arrives (group-committed
with other rows' answers, and reported only once committed: ``Checkpoint.answer_soon``). A request
whose outcome is unknown (a timeout or a connection dropped after sending) leaves its row
``in_doubt``; a NewUser in doubt is never sent again blindly: the user is first looked up with
ShowUsers, and only sent again if Glance does not have it.

Retries: transient failures back off exponentially with jitter, honouring Retry-After. Many
consecutive transient failures pause the run, then stop it (resumable). An AUTH error stops it at
once. A stop request (Ctrl-C, SIGTERM) lets in-flight requests finish and sends nothing new.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bulk_provision.errors import (
    AuthError,
    RunStopped,
    StopRequested,
)
from bulk_provision.glance.api import GlanceApi
from bulk_provision.journal.checkpoint import Checkpoint, Todo
from bulk_provision.model import Progress, RowResult, StopReason
from bulk_provision.provision.ratelimit import RateLimiter
from bulk_provision.provision.retry import Health, backoff_delay
from bulk_provision.provision.row import MESSAGES, RowRun
from bulk_provision.settings.engine import EngineOptions


@dataclass
class EngineReport:
    """Why the engine stopped; each row's state is in the journal."""

    reason: StopReason
    message: str = ""


class Engine:
    """Runs the open rows of a plan on ``workers`` threads sharing one rate limiter and one
    journal; every step of a row goes through the journal's lifecycle transitions."""

    def __init__(
        self,
        api: GlanceApi,
        journal: Checkpoint,
        passwords: Mapping[str, str],
        options: EngineOptions,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        outcomes: dict[str, RowResult] | None = None,
    ) -> None:
        self.api = api
        self.journal = journal
        self._passwords = passwords
        self.options = options
        self.progress = progress
        self.stop = stop or threading.Event()
        self._rng = rng or random.Random()
        self._limiter = RateLimiter(options.rate, burst=max(1, min(options.workers, 4)))
        self.health = Health(options, self.stop)
        self._lock = threading.Lock()
        self._auth_failure: str | None = None
        self._stopped: str | None = None  # a definite stop (RunStopped): why
        self._crash: BaseException | None = None
        # Every final outcome Glance gave this run, kept in memory too: if the journal cannot be
        # written (a full disk), the results workbook still shows what is known.
        self.outcomes: dict[str, RowResult] = {} if outcomes is None else outcomes

    # -- the run ---------------------------------------------------------------------------

    def run(self, todo: Sequence[Todo]) -> EngineReport:
        """Carry out the open rows ``todo`` (in doubt ones are verified first); say why it ended."""
        work = list(reversed(todo))  # pop() from the end keeps plan order
        if self.progress is not None:
            self.progress.start(len(work))
        threads = [
            threading.Thread(target=self._worker, args=(work,), name=f"provision-{i}", daemon=True)
            for i in range(max(1, min(self.options.workers, len(work))))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            self.journal.flush()  # the group-committed answers: durable, then reported
        except BaseException as exc:  # a full disk: like any journal failure of a row
            self._crash = self._crash or exc
        if self._crash is not None:
            raise self._crash
        return self._report()

    def _report(self) -> EngineReport:
        if self._auth_failure is not None:
            return EngineReport(StopReason.AUTH, self._auth_failure)
        if self._stopped is not None:
            return EngineReport(StopReason.TRANSIENT, self._stopped)
        if self.health.gave_up:
            return EngineReport(
                StopReason.TRANSIENT, "too many consecutive failures talking to Glance"
            )
        if self.stop.is_set():
            return EngineReport(StopReason.INTERRUPTED)
        return EngineReport(StopReason.COMPLETED)

    def _worker(self, work: list[Todo]) -> None:
        while not self.stop.is_set():
            with self._lock:
                if not work:
                    return
                item = work.pop()
            try:
                RowRun(self, item).execute()
            except AuthError as exc:
                with self._lock:
                    if self._auth_failure is None:
                        self._auth_failure = str(exc) or "Glance rejected the partner credentials"
                self.stop.set()
            except RunStopped as exc:  # a safety limit: stop everyone, resumably
                with self._lock:
                    self._stopped = self._stopped or str(exc)
                self.stop.set()
            except BaseException as exc:  # a bug or a full disk: stop everyone, report it once
                with self._lock:
                    self._crash = self._crash or exc
                self.stop.set()
                return

    # -- shared by the rows ------------------------------------------------------------------

    def remember(self, result: RowResult) -> None:
        """A final outcome Glance gave, kept before the journal records it."""
        with self._lock:
            self.outcomes[result.key] = result

    def report(self, result: RowResult) -> None:
        if self.progress is not None:
            self.progress.result(result)

    def backoff(self, failures: int, retry_after: float | None) -> None:
        delay = backoff_delay(self.options, failures, retry_after, self._rng)
        if self.progress is not None:
            self.progress.retrying(+1)
        try:
            self.stop.wait(delay)
        finally:
            if self.progress is not None:
                self.progress.retrying(-1)

    def notice(self, message: str | None) -> None:
        if message and self.progress is not None:
            self.progress.notice(message)

    def acquire(self) -> None:
        """A rate-limit slot for one request; StopRequested when the run is stopping meanwhile."""
        if not self._limiter.acquire(self.stop):
            raise StopRequested()

    def password(self, key: str) -> str | None:
        return self._passwords.get(key) or None

__all__ = ["MESSAGES", "Engine", "EngineReport"]
