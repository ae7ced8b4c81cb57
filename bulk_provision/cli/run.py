"""``bulk-provision run``: the whole pipeline, resumable."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from bulk_provision.calllog import CallLog
from bulk_provision.cli.connection import (
    AUTH_HINT,
    ENVIRONMENT_HELP,
    add_connection_options,
    make_client,
    settings_for,
)
from bulk_provision.cli.notifying import (
    add_notify_option,
    notifier_for,
    notify_error,
    notify_result,
)
from bulk_provision.cli.progress import make_progress
from bulk_provision.cli.validate import summary_lines
from bulk_provision.config import Settings, pick
from bulk_provision.errors import EXIT_MEANING, BulkProvisionError, Ending, UsageError
from bulk_provision.glance import GlanceClient
from bulk_provision.job import MODES, JobResult, JobSpec, check_output, run_job
from bulk_provision.model import Outcome
from bulk_provision.notify import Notifier
from bulk_provision.paths import Role
from bulk_provision.provision import GlanceApi, StopReason
from bulk_provision.retry import EngineOptions
from bulk_provision.roster import load_column_map

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
    add_connection_options(p)
    p.set_defaults(handler=handle)


def add_job_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``plan``."""
    p.add_argument("roster", type=Path, metavar="ROSTER", help="CSV or Excel roster")
    p.add_argument("--mode", choices=MODES, help="create (default), upsert or sync")
    p.add_argument("--sheet", help="worksheet to read (default: the first visible one)")
    p.add_argument("--columns", type=Path, help="TOML file mapping your headers to Glance names")
    p.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    p.add_argument("--roles", help="comma-separated roles that exist in Glance")
    p.add_argument("--check-roles", action="store_true", default=None,
                   help="also accept the roles ShowRoles lists, and refuse unknown ones")
    p.add_argument("--skip-invalid", action="store_true", default=None,
                   help="go ahead with the valid rows and report the invalid ones")
    p.add_argument("--audio-provider", choices=("1", "666"),
                   help="AudioProvider for new users whose row leaves it empty")
    p.add_argument("--set-passwords", action="store_true", default=None,
                   help="upsert/sync: also send the roster's passwords to existing users")
    p.add_argument("--protect", action="append", metavar="PATTERN",
                   help="sync: never suspend users matching this (* wildcards; repeatable)")
    p.add_argument("--max-suspend", metavar="N|P%",
                   help="sync: refuse to suspend more than this (default 10%%)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    add_job_options(p)
    p.add_argument("--out", type=Path, help="results workbook (default ROSTER-STEM.results.xlsx)")
    p.add_argument("--workers", type=int, help="concurrent requests (default 8)")
    p.add_argument("--rate", type=float,
                   help="requests/s across all workers (default 10; 0 = no cap)")
    p.add_argument("--max-retries", type=int, help="retries per row for temporary failures (5)")
    p.add_argument("--checkpoint", type=Path,
                   help="journal file (default ROSTER.checkpoint.sqlite)")
    p.add_argument("--fresh", action="store_true",
                   help="ignore an earlier checkpoint and start over")
    p.add_argument("--retry-failed", action="store_true", help="retry rows that failed before")
    p.add_argument("--log-file", type=Path, help="write one JSON line per API call")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")


def engine_options(args: argparse.Namespace, settings: Settings) -> EngineOptions:
    workers = int(pick(getattr(args, "workers", None), settings, "workers", 8))
    rate = float(pick(getattr(args, "rate", None), settings, "rate", 10.0))
    retries = int(pick(getattr(args, "max_retries", None), settings, "max_retries", 5))
    if workers < 1 or workers > 64:
        raise UsageError("--workers must be between 1 and 64")
    if rate < 0:
        raise UsageError("--rate must be 0 (no cap) or more")
    if retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    return EngineOptions(
        workers=workers,
        rate=rate,
        max_retries=retries,
        backoff_base=float(settings.get("backoff_base", 0.5)),
        backoff_max=float(settings.get("backoff_max", 30.0)),
        max_consecutive_failures=int(settings.get("max_consecutive_failures", 25)),
        pause_seconds=float(settings.get("pause_seconds", 30.0)),
    )


def spec_from_args(args: argparse.Namespace, settings: Settings, endpoint: str) -> JobSpec:
    columns = pick(args.columns, settings, "columns", None)
    mode = str(pick(args.mode, settings, "mode", "create"))
    if mode not in MODES:
        raise UsageError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    audio = str(pick(args.audio_provider, settings, "audio_provider", ""))
    if audio not in ("", "1", "666"):
        raise UsageError(f"audio_provider {audio!r} must be 1 or 666")
    if getattr(args, "timeout", None) is None and settings.get("timeout") is not None:
        args.timeout = float(settings.get("timeout"))
    return JobSpec(
        roster_path=args.roster,
        endpoint=endpoint,
        sheet=pick(args.sheet, settings, "sheet", None),
        column_map=load_column_map(columns) if columns else None,
        out=getattr(args, "out", None),
        checkpoint=getattr(args, "checkpoint", None),
        mode=mode,
        fresh=bool(getattr(args, "fresh", False)),
        skip_invalid=bool(pick(args.skip_invalid, settings, "skip_invalid", False)),
        retry_failed=bool(getattr(args, "retry_failed", False)),
        audio_provider=audio,
        roles=_listing(pick(args.roles, settings, "roles", None)),
        engine=engine_options(args, settings),
        set_passwords=bool(pick(args.set_passwords, settings, "set_passwords", False)),
        protect=_listing(pick(args.protect, settings, "protect", None)) or [],
        max_suspend=str(pick(args.max_suspend, settings, "max_suspend", "10%")),
        check_roles=bool(pick(args.check_roles, settings, "check_roles", False)),
    )


def _listing(value: object) -> list[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def input_roles(args: argparse.Namespace, settings: Settings) -> list[Role]:
    """The files a command reads besides the roster, which no output may overwrite."""
    found = [("--config", "the config file", settings.path),
             ("--columns", "the --columns file", pick(args.columns, settings, "columns", None)),
             ("--ca-bundle", "the CA bundle", getattr(args, "ca_bundle", None))]
    return [Role(option, noun, Path(path), output=False) for option, noun, path in found if path]


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to stop; in-flight requests finish, nothing new is sent."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: FrameType | None) -> None:
        # Never raise into the run: what Glance confirms must still reach the checkpoint and
        # the workbook. In-flight requests end within --timeout; kill -9 is safe meanwhile.
        again = stop.is_set()
        stop.set()
        sys.stderr.write(
            "\nbulk-provision: still stopping: waiting for requests in flight (at most --timeout "
            "seconds); kill -9 is safe too, the next run checks them\n" if again else
            "\nbulk-provision: stopping: nothing new is sent; waiting for requests in flight, "
            "then writing the results\n"
        )

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def handle(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    env = settings.environment(os.environ)
    notifier = notifier_for(args, settings, env)  # --notify: checked before any work
    try:
        return _handle(args, settings, env, notifier)
    except BulkProvisionError as exc:
        notify_error(notifier, exc, args, env.get("GLANCE_BASE_URL", "https://www.glance.net"))
        raise


def _handle(
    args: argparse.Namespace, settings: Settings, env: dict[str, str], notifier: Notifier | None
) -> int:
    spec = spec_from_args(args, settings, env.get("GLANCE_BASE_URL", "https://www.glance.net"))
    if env.get("GLANCE_PARTNER_LOGIN"):  # never suspend the account we sign in with
        spec.protect = [*spec.protect, env["GLANCE_PARTNER_LOGIN"]]
    log_file = pick(args.log_file, settings, "log_file", None)
    check_output(spec, *input_roles(args, settings),
                 *([Role("--log-file", "the --log-file", Path(log_file))] if log_file else []))
    call_log = CallLog(Path(log_file)) if log_file else None
    on_call = call_log.record if call_log is not None else None
    clients: list[GlanceClient] = []

    def client() -> GlanceClient:
        if not clients:
            clients.append(
                make_client(args, env, pool_size=spec.engine.workers, on_call=on_call)
            )
        return clients[0]

    try:
        return execute(spec, client, args, settings, notifier)
    finally:
        for made in clients:
            made.close()
        if call_log is not None:
            call_log.close()


def execute(
    spec: JobSpec,
    api_factory: Callable[[], GlanceApi],
    args: argparse.Namespace,
    settings: Settings,
    notifier: Notifier | None = None,
) -> int:
    stop = threading.Event()
    progress = make_progress(
        enabled=args.progress,
        quiet=args.quiet,
        interval=float(settings.get("progress_interval", 10.0)),
    )
    try:
        with stop_on_signals(stop):
            result = run_job(spec, api_factory, progress=progress, stop=stop)
    finally:
        progress.close()
    print_summary(result, spec)
    notify_result(notifier, result, spec)
    return result.exit_code


def print_summary(result: JobResult, spec: JobSpec) -> None:
    out = sys.stdout
    if result.ending is Ending.INVALID:
        invalid = len(result.validation.invalid_rows)
        if result.roster is not None:
            for line in summary_lines(result.roster, result.validation):
                print(line, file=out)
        print(
            f"{invalid} of {result.validation.rows} rows are invalid; nothing was sent. "
            "Fix them (see the Problems sheet) or re-run with --skip-invalid.",
            file=out,
        )
    else:
        for outcome in Outcome:
            count = result.counts.get(outcome, 0)
            if count:
                print(f"  {outcome.value:<14} {count:>7}", file=out)
    print(f"results: {result.results_path}", file=out)
    if result.failed_rows_path is not None:
        print(f"failed rows: {result.failed_rows_path}", file=out)
    print(f"exit code {result.exit_code}: {EXIT_MEANING[result.exit_code]}", file=out)
    if result.ending in STOP_ADVICE:
        print(f"bulk-provision: {stop_line(result, spec)}", file=sys.stderr)


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
