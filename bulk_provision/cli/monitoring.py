"""``--ping URL`` and ``--metrics-file FILE`` on ``run``: the options, the checks before the run,
the ping and the file at its start and end (:mod:`bulk_provision.jobs.monitor`), the file also
at each progress interval while rows are sent (:class:`RefreshedMetrics`).

Like ``--notify``: a bad URL or file ends the command with exit 2 before any work; a ping or a
metrics file that fails later is one warning line, never the run's exit code."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_provision.errors import EXIT_CODES, BulkProvisionError, Ending, UsageError
from bulk_provision.jobs.monitor import Pinger, RunMetrics, write_metrics
from bulk_provision.jobs.run import JobResult
from bulk_provision.model import RowResult
from bulk_provision.settings.config import Settings
from bulk_provision.terminal import printable


def add_monitor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ping", metavar="URL",
        help="a cron monitor's https URL: GET URL/start at the start, URL at exit 0, URL/fail "
             "otherwise (default: ping = ... in the config file)")
    parser.add_argument(
        "--ping-exit-code", action="store_true", default=None,
        help="end with GET URL/N (the exit code) instead, for monitors that take it")
    parser.add_argument(
        "--metrics-file", type=Path, metavar="FILE.prom",
        help="write Prometheus metrics (rows by outcome, duration, exit code, last success) "
             "for node_exporter's textfile collector, at the start, at each progress interval "
             "and at the end")


@dataclass
class Monitor:
    """The run's ping and metrics file (either may be absent)."""

    pinger: Pinger | None = None
    metrics_file: Path | None = None
    started: float = field(default_factory=time.time)
    begun: bool = False

    def begin(self) -> None:
        """The start: called once the command has checked its options and files, so a run
        refused before any work pings nothing and leaves the metrics file as it was."""
        self.begun = True
        if self.pinger is not None:
            _warn(self.pinger.start())
        if self.metrics_file is not None:
            _warn(write_metrics(self.metrics_file, RunMetrics({}, 0, self.started)))

    def end(self, exit_code: int, counts: Mapping[str, int] | None = None) -> None:
        if not self.begun:
            return
        if self.metrics_file is not None:
            counts = dict(counts or {})
            _warn(write_metrics(self.metrics_file, RunMetrics(
                counts, sum(counts.values()), self.started, exit_code)))
        if self.pinger is not None:
            _warn(self.pinger.finish(exit_code))


def monitor_for(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]
                ) -> Monitor:
    """The run's monitor; UsageError (exit 2) for a URL or file that cannot be used."""
    url = args.ping if getattr(args, "ping", None) is not None else settings.get("ping", None)
    exit_codes = bool(args.ping_exit_code if getattr(args, "ping_exit_code", None) is not None
                      else settings.get("ping_exit_code", False))
    ca_bundle = getattr(args, "ca_bundle", None) or env.get("GLANCE_CA_BUNDLE") or None
    pinger = Pinger.checked(str(url), exit_codes=exit_codes,
                            ca_bundle=str(ca_bundle) if ca_bundle else None) if url else None
    path = getattr(args, "metrics_file", None) or settings.get("metrics_file", None)
    metrics = Path(path) if path else None
    if metrics is not None:
        if metrics.suffix != ".prom":
            raise UsageError(f"--metrics-file {metrics}: node_exporter reads only files ending "
                             "in .prom; name it so")
        if not metrics.parent.is_dir():
            raise UsageError(f"--metrics-file {metrics}: the folder {metrics.parent} does not "
                             "exist")
        if metrics.is_dir():
            raise UsageError(f"--metrics-file {metrics} is a folder: give a file name")
    return Monitor(pinger, metrics)


@dataclass
class RunEnd:
    """Filled in by the command: how it ended, and the run's result when there was one."""

    ending: Ending | None = None
    result: JobResult | None = None
    monitor: Monitor | None = None


class RefreshedMetrics:
    """A progress display that also rewrites ``--metrics-file`` every ``interval`` seconds
    while rows are sent (rows so far by outcome, ``bulk_provision_running 1``): the display's
    calls pass through unchanged."""

    def __init__(self, shown: Any, monitor: Monitor, interval: float) -> None:
        self._shown = shown
        self._monitor = monitor
        self._interval = max(interval, 1.0)
        self._counts: Counter[str] = Counter()
        self._planned = 0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self._planned = total
        self._shown.start(total)

    def result(self, result: RowResult) -> None:
        self._shown.result(result)
        path = self._monitor.metrics_file
        with self._lock:
            self._counts[result.outcome.value] += 1
            now = time.monotonic()
            if path is None or now - self._last < self._interval:
                return
            self._last = now
            metrics = RunMetrics(dict(self._counts), self._planned, self._monitor.started)
        _warn(write_metrics(path, metrics))

    def __getattr__(self, name: str) -> Any:  # retrying, notice, close: the display's own
        return getattr(self._shown, name)


@contextmanager
def monitored(monitor: Monitor) -> Iterator[RunEnd]:
    """Around the command: the end with its exit code (or its error's), once the command
    called ``outcome.monitor.begin()`` (after its checks)."""
    outcome = RunEnd(monitor=monitor)
    try:
        yield outcome
    except BulkProvisionError as exc:
        if not monitor.begun and (exc.where is None or exc.where.setting != "metrics_file"):
            monitor.begin()  # refused before its start: a monitor still hears of the failure
        monitor.end(exc.exit_code)
        raise
    except KeyboardInterrupt:
        monitor.end(EXIT_CODES[Ending.INTERRUPTED])
        raise
    result = outcome.result
    counts = {o.value: n for o, n in result.counts.items()} if result is not None else {}
    monitor.end(EXIT_CODES[outcome.ending or Ending.FINISHED], counts)


def _warn(line: str | None) -> None:
    if line:
        print(f"bulk-provision: warning: {printable(line)}", file=sys.stderr)
