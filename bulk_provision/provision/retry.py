"""Retry policy: options, exponential backoff with jitter, and run-wide failure health."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from bulk_provision.errors import Interrupted, RunStopped, TransientApiError
from bulk_provision.settings.engine import EngineOptions

T = TypeVar("T")


def wait_refusal(options: EngineOptions, retry_after: float | None) -> str | None:
    """Why a wait Glance asked for is not obeyed (longer than ``--max-wait``), or None.

    The exponential backoff of our own (after a 5xx or a timeout) is not bounded by
    ``max_wait``: it has ``backoff_max``.
    """
    if retry_after is None or retry_after <= options.max_wait:
        return None
    return (
        f"Glance asked to wait {_seconds(retry_after)} (Retry-After), more than --max-wait "
        f"{options.max_wait:g} s; stopped rather than wait"
    )


def _seconds(value: float) -> str:
    """``99999999 s`` rather than ``1e+08 s``: the wait as the server wrote it."""
    if not math.isfinite(value):
        return "longer than any limit"
    return f"{value:.0f} s" if value >= 10 else f"{value:g} s"


class WaitBudget:
    """The Retry-After waits of one row (or one read), bounded in total by ``--max-wait``:
    a server answering every request with a wait just under the limit cannot keep one row,
    and the journal's lock, for hours (each row may be throttled ``max_throttled`` times)."""

    def __init__(self, options: EngineOptions) -> None:
        self._options = options
        self.waited = 0.0
        self.times = 0

    def refusal(self, retry_after: float | None) -> str | None:
        """Why this wait is not obeyed (see ``wait_refusal``), else None and it is counted."""
        single = wait_refusal(self._options, retry_after)
        if single is not None or retry_after is None:
            return single
        total = self.waited + retry_after
        if total > self._options.max_wait:
            return (
                f"Glance asked to wait {_seconds(total)} in all (Retry-After, {self.times + 1} "
                f"times for one request), more than --max-wait {self._options.max_wait:g} s; "
                "stopped rather than wait"
            )
        self.waited, self.times = total, self.times + 1
        return None


def backoff_delay(
    options: EngineOptions, failures: int, retry_after: float | None, rng: random.Random
) -> float:
    """Exponential backoff with jitter (full range 50-100%, capped by ``backoff_max``); never
    sooner than Retry-After, whose jitter (up to +20%) stays within ``max_wait``."""
    base = options.backoff_base * (2 ** max(0, min(failures - 1, 64)))
    delay = min(options.backoff_max, base) * rng.uniform(0.5, 1.0)
    if retry_after is not None:
        asked = min(retry_after * rng.uniform(1.0, 1.2), max(options.max_wait, retry_after))
        delay = max(delay, asked)
    return delay


class Health:
    """Consecutive transient failures across all workers: pause, then stop."""

    def __init__(self, options: EngineOptions, stop: threading.Event) -> None:
        self._options = options
        self._stop = stop
        self._lock = threading.Lock()
        self._consecutive = 0
        self._resume_at = 0.0
        self.gave_up = False

    def success(self) -> None:
        with self._lock:
            self._consecutive = 0

    def failure(self) -> str | None:
        """Count one failure; return a notice when the run pauses or stops."""
        limit = self._options.max_consecutive_failures
        with self._lock:
            self._consecutive += 1
            if self._consecutive == limit:
                self._resume_at = time.monotonic() + self._options.pause_seconds
                return (
                    f"{limit} requests in a row failed; pausing "
                    f"{self._options.pause_seconds:g} s before trying again"
                )
            if self._consecutive >= 2 * limit and not self.gave_up:
                self.gave_up = True
                self._stop.set()
                return f"{self._consecutive} requests in a row failed; stopping"
        return None

    def wait_if_paused(self) -> None:
        delay = self._resume_at - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)


def call_with_retries(
    call: Callable[[], T],
    options: EngineOptions,
    *,
    what: str,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
) -> T:
    """A read-only call (ShowUsers snapshot, ShowRoles) retried like any other request.

    Gives up with RunStopped (exit 4, nothing changed) when it keeps failing, or at once when
    Glance asks for a wait longer than ``options.max_wait``.
    """
    rng = rng or random.Random()
    stop = stop or threading.Event()
    budget = WaitBudget(options)
    for attempt in range(options.max_retries + 1):
        try:
            return call()
        except TransientApiError as exc:
            if attempt == options.max_retries:
                raise RunStopped(
                    f"{what} kept failing ({exc}); nothing was changed"
                ) from exc
            refusal = budget.refusal(exc.retry_after)
            if refusal is not None:
                why = f"{what}: {refusal}; nothing was changed, try again later"
                raise RunStopped(why) from exc
            delay = backoff_delay(options, attempt + 1, exc.retry_after, rng)
            if stop.wait(delay):
                raise Interrupted("interrupted; nothing was changed") from exc
    raise AssertionError("unreachable")
