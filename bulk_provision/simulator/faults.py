"""Injected faults: latency and jitter, HTTP 5xx, HTTP 429 above a rate, drops, slow answers.

Every random draw comes from one RNG seeded by ``config.seed``; a rate of exactly 0 or 1 draws
nothing, so tests using those are deterministic whatever the thread interleaving.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from bulk_provision.simulator.config import FAULT_FIELDS, SimulatorConfig, check_faults


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: refuse it, delay it, drop or dribble its answer."""

    refuse_status: int | None = None  # 429 or 5xx: answered before anything is committed
    delay: float = 0.0  # seconds to wait before handling
    drop: bool = False  # commit, then close the connection without an answer
    byte_delay: float = 0.0  # > 0: send the answer one byte at a time with this pause


class FaultInjector:
    """Decides the faults of each request from the live settings in ``config``."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed)
        self._tokens = 0.0
        self._refilled = time.monotonic()
        self._bucket_rate = -1.0

    def set_faults(self, **changes: Any) -> None:
        """Change fault settings at run time (names from ``FAULT_FIELDS``)."""
        unknown = set(changes) - FAULT_FIELDS
        if unknown:
            raise TypeError(f"not fault settings: {', '.join(sorted(unknown))}")
        check_faults(changes)
        with self._lock:
            for name, value in changes.items():
                setattr(self.config, name, int(value) if name == "fail_status" else float(value))

    def chance(self, rate: float) -> bool:
        """True with probability ``rate`` (no draw at 0 or 1)."""
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._rng.random() < rate

    def plan(self) -> FaultPlan:
        """The faults for the request arriving now."""
        cfg = self.config
        if cfg.rate_limit > 0 and not self._take_token(cfg.rate_limit):
            return FaultPlan(refuse_status=429)
        if self.chance(cfg.fail_rate):
            return FaultPlan(refuse_status=cfg.fail_status)
        delay = cfg.latency_ms / 1000
        if cfg.jitter_ms > 0:
            with self._lock:
                delay += self._rng.uniform(0, cfg.jitter_ms) / 1000
        byte_delay = cfg.slow_seconds if self.chance(cfg.slow_rate) else 0.0
        return FaultPlan(delay=delay, drop=self.chance(cfg.drop_rate), byte_delay=byte_delay)

    def _take_token(self, rate: float) -> bool:
        """Token bucket holding at most one second of requests (at least one)."""
        with self._lock:
            now = time.monotonic()
            capacity = max(1.0, rate)
            if rate != self._bucket_rate:  # new or changed limit: start with a full bucket
                self._bucket_rate, self._tokens, self._refilled = rate, capacity, now
            self._tokens = min(capacity, self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
