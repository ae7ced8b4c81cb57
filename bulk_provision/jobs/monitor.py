"""What a monitor reads of a run: ``--ping URL`` and ``--metrics-file FILE.prom``.

``--ping URL`` (or ``ping =`` in the config file) speaks the protocol cron monitors share
(healthchecks.io, Cronitor's and others' "heartbeat" URLs): ``GET URL/start`` when the run
begins, ``GET URL`` when it ends with exit 0 and ``GET URL/fail`` otherwise; with
``ping_exit_code = true`` (or ``--ping-exit-code``) the end is ``GET URL/N`` with the exit code,
for services that take it. A ping carries nothing but its URL: no roster data, no secret. It is
``https://`` only, verified like the Glance connection, bounded (:data:`PING_SECONDS` in all,
whatever the server does), never followed through a redirect and never fatal: a ping that fails
is one warning line, and the run's exit code and files are as they would be without it. A
warning names the URL by scheme and host only (a ping URL's path is its secret).

``--metrics-file FILE.prom`` is the Prometheus text format that node_exporter's textfile
collector reads: rows by outcome, rows planned, duration, exit code, the time of this run and of
the last successful one (kept from the previous file when this run did not succeed). Written
atomically (a temporary file beside it, then a rename), readable by others (it holds counts
only), at the start of the run (``bulk_provision_running 1``) and at its end.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bulk_provision import __version__
from bulk_provision.errors import UsageError

PING_SECONDS = 10.0  # a ping, connection to answer, at most; the run never waits longer
METRICS_MODE = 0o644  # node_exporter runs as another user; the file holds counts only
_LAST_SUCCESS = re.compile(r"^bulk_provision_last_success_timestamp_seconds (\S+)$", re.M)


def where(url: str) -> str:
    """A URL as a warning may name it: scheme and host, never the path (its token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


@dataclass(frozen=True)
class Pinger:
    """The ``--ping`` URL of one run."""

    url: str
    exit_codes: bool = False
    verify: str | bool = True  # a CA bundle's path, or the usual trust store

    @classmethod
    def checked(cls, url: str, *, exit_codes: bool = False, ca_bundle: str | None = None
                ) -> Pinger:
        """The pinger for ``url``; UsageError (exit 2) for anything but a plain https URL."""
        parts = urlsplit(url.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise UsageError(f"--ping {where(url)}...: a ping URL must start with https:// "
                             "(pings are never sent unencrypted)")
        if parts.username or parts.password:
            raise UsageError(f"--ping {where(url)}...: a ping URL cannot carry a user name or "
                             "password")
        if parts.query or parts.fragment:
            raise UsageError(f"--ping {where(url)}...: give the ping URL without ?... or #...")
        return cls(url.strip().rstrip("/"), exit_codes, ca_bundle or True)

    def start(self) -> str | None:
        """Ping ``URL/start``; a warning line when it failed, else None."""
        return self._get(f"{self.url}/start")

    def finish(self, exit_code: int) -> str | None:
        """Ping the end: ``URL`` / ``URL/fail``, or ``URL/N``; a warning line or None."""
        if self.exit_codes:
            return self._get(f"{self.url}/{exit_code}")
        return self._get(self.url if exit_code == 0 else f"{self.url}/fail")

    def _get(self, url: str) -> str | None:
        """One GET in a thread of its own, waited for at most :data:`PING_SECONDS`: a server
        that drips its answer byte by byte cannot hold the run."""
        said: list[str] = []

        def get() -> None:
            try:
                with requests.get(url, timeout=(PING_SECONDS / 2, PING_SECONDS / 2),
                                  allow_redirects=False, verify=self.verify, stream=True,
                                  headers={"User-Agent": f"bulk-provision/{__version__}"}
                                  ) as answer:
                    if answer.status_code >= 300:
                        said.append(f"answered HTTP {answer.status_code}")
            except requests.RequestException as exc:
                said.append(f"failed ({type(exc).__name__})")

        thread = threading.Thread(target=get, name="bulk-provision-ping", daemon=True)
        thread.start()
        thread.join(PING_SECONDS)
        if thread.is_alive():
            return f"the ping to {where(url)} did not answer within {PING_SECONDS:.0f} s"
        return f"the ping to {where(url)} {said[0]}" if said else None


@dataclass(frozen=True)
class RunMetrics:
    """What ``--metrics-file`` says of one run."""

    counts: Mapping[str, int]  # outcome -> rows
    planned: int
    started: float  # time.time()
    exit_code: int | None = None  # None: still running

    def text(self, now: float, last_success: float | None) -> str:
        running = self.exit_code is None
        lines = [
            "# HELP bulk_provision_running 1 while a run is in progress.",
            "# TYPE bulk_provision_running gauge",
            f"bulk_provision_running {int(running)}",
            "# HELP bulk_provision_rows Roster rows of the last run, by outcome.",
            "# TYPE bulk_provision_rows gauge",
            *(f'bulk_provision_rows{{outcome="{_label(name)}"}} {count}'
              for name, count in sorted(self.counts.items())),
            "# HELP bulk_provision_rows_planned Rows the last run planned to provision.",
            "# TYPE bulk_provision_rows_planned gauge",
            f"bulk_provision_rows_planned {self.planned}",
            "# HELP bulk_provision_duration_seconds How long the last run took.",
            "# TYPE bulk_provision_duration_seconds gauge",
            f"bulk_provision_duration_seconds {max(0.0, now - self.started):.3f}",
            "# HELP bulk_provision_last_run_timestamp_seconds When the last run started.",
            "# TYPE bulk_provision_last_run_timestamp_seconds gauge",
            f"bulk_provision_last_run_timestamp_seconds {self.started:.3f}",
        ]
        if not running:
            lines += ["# HELP bulk_provision_exit_code The exit code of the last run.",
                      "# TYPE bulk_provision_exit_code gauge",
                      f"bulk_provision_exit_code {self.exit_code}"]
        if last_success is not None:
            lines += ["# HELP bulk_provision_last_success_timestamp_seconds When the last run "
                      "that ended with exit 0 ended.",
                      "# TYPE bulk_provision_last_success_timestamp_seconds gauge",
                      f"bulk_provision_last_success_timestamp_seconds {last_success:.3f}"]
        return "\n".join(lines) + "\n"


def write_metrics(path: Path, metrics: RunMetrics, *, now: float | None = None) -> str | None:
    """Write ``metrics`` to ``path`` atomically; a warning line when it could not be written
    (never fatal: the run's own files and exit code are what count)."""
    now = time.time() if now is None else now
    last = now if metrics.exit_code == 0 else previous_success(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(metrics.text(now, last), encoding="utf-8")
        os.chmod(temporary, METRICS_MODE)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        return f"cannot write the metrics file {path}: {exc.strerror or exc}"
    return None


def previous_success(path: Path) -> float | None:
    """The last success an earlier run wrote into ``path`` (None when there is none)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            found = _LAST_SUCCESS.search(f.read(64 * 1024))
    except OSError:
        return None
    try:
        return float(found.group(1)) if found else None
    except ValueError:
        return None


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and line breaks escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
