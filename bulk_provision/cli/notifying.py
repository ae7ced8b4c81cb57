"""``--notify TARGET`` on ``run``: the option, the checks before the run, the sending after it.

Not a command: ``run`` calls :func:`add_notify_option`, :func:`notifier_for` before any work
(a bad target or missing SMTP settings end the command with exit 2 at once), and
:func:`notify_result` / :func:`notify_error` at its end, whatever the ending. A failed
notification is one warning line on stderr; the exit code stays the run's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulk_provision.cli.hints import said
from bulk_provision.errors import BulkProvisionError
from bulk_provision.jobs.notify import Notifier, notifier_from
from bulk_provision.jobs.run import JobResult
from bulk_provision.jobs.summary import error_document, notified, summary_document
from bulk_provision.settings.config import Settings
from bulk_provision.settings.spec import JobSpec
from bulk_provision.terminal import printable

MAX_LISTED_ROWS = 1000  # in a webhook's JSON; the email shows fewer, the workbook all


def add_notify_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notify", action="append", metavar="TARGET",
        help="at the end, POST a JSON summary to https://... or email mailto:ADDRESS (smtp_* "
             "settings in the config file, password in GLANCE_SMTP_PASSWORD); repeatable; "
             "default: notify = [...] in the config file",
    )


def notifier_for(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str]
) -> Notifier | None:
    """The run's notifier, or None without targets; UsageError/ConfigError when unusable."""
    ca_bundle = getattr(args, "ca_bundle", None)
    return notifier_from(settings, env, targets=getattr(args, "notify", None),
                         ca_bundle=str(ca_bundle) if ca_bundle else None)


def notify_result(notifier: Notifier | None, result: JobResult, spec: JobSpec) -> None:
    if notifier is not None:
        document = summary_document(result, spec, max_rows=MAX_LISTED_ROWS)
        _send(notifier, notified(document), result.results_path)


def notify_error(
    notifier: Notifier | None, error: BulkProvisionError, args: argparse.Namespace,
    endpoint: str,
) -> None:
    if notifier is not None:
        roster = getattr(args, "roster", None)
        document = error_document(error, roster=Path(roster) if roster else None,
                                  mode=str(getattr(args, "mode", None) or ""), endpoint=endpoint,
                                  message=said(error))
        _send(notifier, notified(document), None)


def _send(notifier: Notifier, document: dict[str, Any], attachment: Path | None) -> None:
    """Send, after the command's own work and files: Ctrl-C while waiting for a receiver only
    abandons the notification (one line), never the command's exit code or its --json."""
    try:
        failures = notifier.send(document, attachment=attachment)
    except KeyboardInterrupt:
        failures = ["interrupted while notifying: the notification was abandoned"]
    _report(failures)


def _report(failures: list[str]) -> None:
    for line in failures:
        print(f"bulk-provision: warning: {printable(line)}", file=sys.stderr)
