"""Retry policy: options, exponential backoff with jitter, and run-wide failure health."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bulk_provision.errors import Interrupted, RunStopped, TransientApiError

T = TypeVar("T")


@dataclass
class EngineOptions:
    workers: int = 8
    rate: float = 10.0
    max_retries: int = 5
    max_throttled: int = 60  # 429 answers tolerated per action; they do not count as failures
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_consecutive_failures: int = 25
    pause_seconds: float = 30.0
    max_wait: float = 300.0  # longest single wait obeyed; a longer Retry-After stops the run


def wait_refusal(options: EngineOptions, retry_after: float | None) -> str | None:
    """Why a wait Glance asked for is not obeyed (longer than ``--max-wait``), or None.

    The waits of the backoff itself are capped at ``max_wait`` (backoff_delay) instead.
    """
    if retry_after is None or retry_after <= options.max_wait:
        return None
    return (
        f"Glance asked to wait {_seconds(retry_after)} s (Retry-After), more than --max-wait "
        f"{options.max_wait:g} s; stopped rather than wait"
    )


def _seconds(value: float) -> str:
    """``99999999`` rather than ``1e+08``: the wait as the server wrote it."""
    return f"{value:.0f}" if value >= 10 else f"{value:g}"


def backoff_delay(
    options: EngineOptions, failures: int, retry_after: float | None, rng: random.Random
) -> float:
    """Exponential backoff with jitter (full range 50-100%); never sooner than Retry-After."""
    base = options.backoff_base * (2 ** max(0, failures - 1))
    delay = min(options.backoff_max, base) * rng.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, retry_after * rng.uniform(1.0, 1.2))
    return min(delay, max(options.max_wait, retry_after or 0.0))


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
    for attempt in range(options.max_retries + 1):
        try:
            return call()
        except TransientApiError as exc:
            if attempt == options.max_retries:
                raise RunStopped(
                    f"{what} kept failing ({exc}); nothing was changed"
                ) from exc
            refusal = wait_refusal(options, exc.retry_after)
            if refusal is not None:
                why = f"{what}: {refusal}; nothing was changed, try again later"
                raise RunStopped(why) from exc
            delay = backoff_delay(options, attempt + 1, exc.retry_after, rng)
            if stop.wait(delay):
                raise Interrupted("interrupted; nothing was changed") from exc
    raise AssertionError("unreachable")
