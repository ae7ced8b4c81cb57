"""``bulk-provision run``: the whole pipeline, resumable."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from bulk_provision.cli.connection import (
    AUTH_HINT,
    ENVIRONMENT_HELP,
    add_connection_options,
    open_client,
    settings_for,
)
from bulk_provision.cli.monitoring import (
    RefreshedMetrics,
    RunEnd,
    add_monitor_options,
    monitor_for,
    monitored,
)
from bulk_provision.cli.notifying import (
    add_notify_option,
    notifier_for,
    notify_error,
    notify_result,
)
from bulk_provision.cli.options import add_run_options, input_roles
from bulk_provision.cli.progress import make_progress
from bulk_provision.cli.signals import stop_on_signals
from bulk_provision.cli.summary import human, print_json, summary_lines, warning_lines
from bulk_provision.errors import EXIT_MEANING, BulkProvisionError, Ending, UsageError, Where
from bulk_provision.glance import GlanceClient
from bulk_provision.glance.api import GlanceApi
from bulk_provision.jobs.clients import OnCall, lazy_client
from bulk_provision.jobs.notify import Notifier
from bulk_provision.jobs.run import JobResult, check_output, run_job
from bulk_provision.jobs.summary import problem_entry, summary_document
from bulk_provision.model import Outcome, StopReason
from bulk_provision.roster.selection import describe
from bulk_provision.settings.config import Settings
from bulk_provision.settings.connection import DEFAULT_BASE_URL
from bulk_provision.settings.paths import Role, check_distinct, journal_roles
from bulk_provision.settings.spec import JobSpec
from bulk_provision.terminal import printable

DESCRIPTION = """\
Provision every row of ROSTER into Glance, then write a results workbook.

Credentials come from the environment (GLANCE_PARTNER_LOGIN, GLANCE_PARTNER_PW or
GLANCE_API_KEY + GLANCE_PARTNER_ID), the config file, or a prompt on a terminal; never
from an argument. Running the same command again resumes where it stopped.

example:
  export GLANCE_PARTNER_LOGIN=admin.example.glance.net
  bulk-provision run staff.xlsx --workers 16 --rate 20
"""

STOP_ADVICE = {
    Ending.STOPPED: (
        "stopped early; nothing is lost: fix the cause and re-run the same command to resume"
    ),
    Ending.INTERRUPTED: "interrupted; re-run the same command to resume",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="provision the roster (resumable)",
        description=DESCRIPTION,
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_options(p)
    add_notify_option(p)
    add_monitor_options(p)
    add_connection_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> Ending:
    settings = settings_for(args)
    env = settings.environment(os.environ)
    notifier = notifier_for(args, settings, env)  # --notify: checked before any work
    monitor = monitor_for(args, settings, env)  # --ping, --metrics-file: checked too
    try:
        with monitored(monitor) as outcome:
            outcome.ending = _handle(args, settings, notifier, outcome)
            return outcome.ending
    except BulkProvisionError as exc:
        notify_error(notifier, exc, args, env.get("GLANCE_BASE_URL") or DEFAULT_BASE_URL)
        raise


def _handle(args: argparse.Namespace, settings: Settings, notifier: Notifier | None,
            outcome: RunEnd) -> Ending:
    spec = JobSpec.from_settings(vars(args), settings, os.environ)
    log_roles = [Role("--log-file", "the --log-file", spec.log_file)] if spec.log_file else []
    monitor = outcome.monitor
    if monitor is not None and monitor.metrics_file is not None:
        metrics = Role("--metrics-file", "the --metrics-file", monitor.metrics_file)
        try:  # before anything writes it: never over the journal, the log or a workbook
            check_distinct([*input_roles(spec), *journal_roles(spec.checkpoint_path),
                            Role("--out", "the results workbook", spec.results_path),
                            *log_roles, metrics])
        except UsageError as exc:
            exc.where = Where(setting="metrics_file")
            raise
        log_roles.append(metrics)
    check_output(spec, *input_roles(spec), *log_roles)
    if monitor is not None:
        monitor.begin()  # the start ping and first metrics: only once the run may go ahead

    def opener(on_call: OnCall | None) -> GlanceClient:
        return open_client(spec.connection, pool_size=spec.engine.workers, on_call=on_call)

    with lazy_client(opener, log_file=spec.log_file, warn=_warn) as client:
        return execute(spec, client, args, notifier, outcome)


def _warn(message: str) -> None:
    """A courtesy that failed (the call log): said, never fatal."""
    print(f"bulk-provision: warning: {printable(message)}", file=sys.stderr)


def execute(
    spec: JobSpec,
    api_factory: Callable[[], GlanceApi],
    args: argparse.Namespace,
    notifier: Notifier | None = None,
    outcome: RunEnd | None = None,
) -> Ending:
    """Run the job; its result also goes into ``outcome`` (what --ping and --metrics-file
    report at the end)."""
    stop = threading.Event()
    progress: Any = make_progress(
        enabled=args.progress, quiet=args.quiet, interval=spec.progress_interval
    )
    if outcome is not None and outcome.monitor is not None and outcome.monitor.metrics_file:
        progress = RefreshedMetrics(progress, outcome.monitor, spec.progress_interval)
    try:
        with stop_on_signals(stop):
            result = run_job(spec, api_factory, progress=progress, stop=stop)
    finally:
        progress.close()
    if outcome is not None:
        outcome.result = result
    spec = result.spec or spec  # run --plan: the plan's mode and wave
    print_summary(result, spec, human(args))
    notify_result(notifier, result, spec)
    if args.json:
        print_json(run_document(result, spec))
    return result.ending


def run_document(result: JobResult, spec: JobSpec) -> dict[str, Any]:
    """``run --json``: the document ``--notify`` sends, every row listed, plus the plan
    carried out (``run --plan``) and, for an invalid roster, the problems."""
    document = summary_document(result, spec)
    if spec.plan is not None:
        document["plan"] = str(spec.plan)
    if result.ending is Ending.INVALID:
        document["problems"] = [problem_entry(p) for p in result.validation.problems]
    return document


def print_summary(result: JobResult, spec: JobSpec, out: TextIO) -> None:
    if result.ending is Ending.INVALID:
        invalid = len(result.validation.invalid_rows)
        if result.roster is not None:
            for line in summary_lines(result.roster, result.validation):
                print(printable(line), file=out)
        print(
            f"{invalid} of {result.validation.rows} rows are invalid; nothing was sent. "
            "Fix them (see the Problems sheet) or re-run with --skip-invalid.",
            file=out,
        )
    else:
        for line in warning_lines(result.roster) if result.roster is not None else []:
            print(printable(line), file=out)  # a cron admin sees them too (DESIGN.md 4)
        if spec.selection is not None and result.roster is not None:
            print(printable(f"wave: {describe(spec.selection, result.roster)}"), file=out)
        for outcome in Outcome:
            count = result.counts.get(outcome, 0)
            if count:
                print(f"  {outcome.value:<14} {count:>7}", file=out)
    print(printable(f"results: {result.results_path}"), file=out)
    if result.results_path != spec.results_path:
        print(printable(f"bulk-provision: warning: the results could not be written to "
                        f"{spec.results_path}; they are in {result.results_path}"),
              file=sys.stderr)
    if result.failed_rows_path is not None:
        print(printable(f"failed rows: {result.failed_rows_path}"), file=out)
    print(f"exit code {result.exit_code}: {EXIT_MEANING[result.exit_code]}", file=out)
    if result.ending in STOP_ADVICE:
        print(f"bulk-provision: {printable(stop_line(result, spec))}", file=sys.stderr)


def stop_line(result: JobResult, spec: JobSpec) -> str:
    """Why the run stopped and what to do, on one line."""
    advice = STOP_ADVICE[result.ending]
    if spec.fresh:
        advice = advice.replace("the same command", "the same command without --fresh")
    reason = f"{result.message}; " if result.message else ""
    unfinished = result.counts.get(Outcome.UNFINISHED, 0)
    if not reason and unfinished:
        rows = "1 row was" if unfinished == 1 else f"{unfinished} rows were"
        reason = f"{rows} left unfinished (no definite answer from Glance); "
    if result.stop is StopReason.AUTH:
        reason = f"{reason}{AUTH_HINT}; "
    return reason + advice
