"""A token bucket shared by every worker: ``--rate`` requests per second across the run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Hands out send slots at most ``rate`` per second (``rate <= 0``: unlimited).

    A small burst (``burst`` tokens) lets workers that were idle start together; after that
    slots are spaced evenly, so a server limit of R requests/s is never exceeded by more than
    the burst.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._stamp = clock()

    def reserve(self) -> float:
        """Take one slot; return how many seconds the caller must wait before using it."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until a slot is free. Returns False if ``stop`` was set while waiting."""
        delay = min(self.reserve(), threading.TIMEOUT_MAX)  # any rate: never an OverflowError
        if delay <= 0:
            return not (stop is not None and stop.is_set())
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)
