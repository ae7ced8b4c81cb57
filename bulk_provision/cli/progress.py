"""What the user sees while a run is going: a tqdm bar on a terminal, periodic lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

from bulk_provision.journal.lifecycle import GOOD_OUTCOMES
from bulk_provision.model import Outcome, RowResult
from bulk_provision.terminal import printable


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[Outcome] = Counter()
        self.retrying = 0
        self.done = 0

    def add(self, result: RowResult) -> None:
        with self.lock:
            self.outcomes[result.outcome] += 1
            self.done += 1

    def describe(self) -> str:
        with self.lock:  # workers add outcomes while this reads them
            outcomes = dict(self.outcomes)
            retrying = self.retrying
        created = outcomes.get(Outcome.CREATED, 0)
        good = sum(n for o, n in outcomes.items() if o in GOOD_OUTCOMES)
        failed = outcomes.get(Outcome.FAILED, 0)
        unfinished = outcomes.get(Outcome.UNFINISHED, 0)
        other = f" other-ok={good - created}" if good > created else ""
        left = f" unfinished={unfinished}" if unfinished else ""
        return f"created={created}{other} failed={failed}{left} retrying={retrying}"


def _shown(write: Callable[[], object]) -> None:
    """Progress is a courtesy: a closed or full stderr must never stop the run."""
    try:
        write()
    except (OSError, ValueError):
        pass


class BarProgress:
    """A tqdm bar on stderr: rows/s, ETA, ok / failed / retrying counts."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._counts = _Counts()
        self._stream = stream or sys.stderr
        self._bar: tqdm | None = None

    def start(self, total: int) -> None:
        self._bar = tqdm(total=total, unit="row", file=self._stream, dynamic_ncols=True)
        self._lock = threading.Lock()  # tqdm's update is not meant for many threads at once

    def result(self, result: RowResult) -> None:
        self._counts.add(result)
        bar = self._bar
        if bar is not None:
            with self._lock:
                _shown(lambda: bar.set_postfix_str(self._counts.describe(), refresh=False))
                _shown(lambda: bar.update(1))

    def retrying(self, delta: int) -> None:
        with self._counts.lock:
            self._counts.retrying += delta

    def notice(self, message: str) -> None:
        text = f"bulk-provision: {printable(message)}"
        _shown(lambda: tqdm.write(text, file=self._stream))

    def close(self) -> None:
        bar = self._bar
        if bar is not None:
            _shown(bar.close)


class LineProgress:
    """One summary line every ``interval`` seconds (for cron and log files)."""

    def __init__(self, interval: float = 10.0, stream: TextIO | None = None) -> None:
        self._counts = _Counts()
        self._total = 0
        self._interval = interval
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._last = self._started

    def start(self, total: int) -> None:
        self._total = total
        self._started = self._last = time.monotonic()

    def result(self, result: RowResult) -> None:
        self._counts.add(result)
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._line(now)

    def _line(self, now: float) -> None:
        done = self._counts.done
        rate = done / max(now - self._started, 1e-9)
        eta = (self._total - done) / rate if rate > 0 else 0.0
        line = (
            f"bulk-provision: {done}/{self._total} rows, {rate:.1f} rows/s, "
            f"ETA {eta:.0f} s, {self._counts.describe()}"
        )
        _shown(lambda: print(line, file=self._stream, flush=True))

    def retrying(self, delta: int) -> None:
        with self._counts.lock:
            self._counts.retrying += delta

    def notice(self, message: str) -> None:
        text = f"bulk-provision: {printable(message)}"
        _shown(lambda: print(text, file=self._stream, flush=True))

    def close(self) -> None:
        if self._counts.done:
            self._line(time.monotonic())


class QuietProgress:
    def start(self, total: int) -> None:
        pass

    def result(self, result: RowResult) -> None:
        pass

    def retrying(self, delta: int) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(
    *, enabled: bool | None, quiet: bool, interval: float = 10.0
) -> BarProgress | LineProgress | QuietProgress:
    """``--progress`` forces the bar, ``--no-progress`` the lines; default follows the tty."""
    if quiet:
        return QuietProgress()
    use_bar = sys.stderr.isatty() if enabled is None else enabled
    if use_bar:
        return BarProgress()
    return LineProgress(interval)
