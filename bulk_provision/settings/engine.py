"""How hard the engine works: workers, rate, retries, backoff, the pause and the longest wait."""

from __future__ import annotations

from dataclasses import dataclass


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
    # The longest wait obeyed: a longer Retry-After stops the run, and so do Retry-After waits
    # that add up to more than this within one row or one read (WaitBudget).
    max_wait: float = 300.0
