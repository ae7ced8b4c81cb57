"""The pipeline behind ``bulk-provision run``: load, validate, plan, provision, report.

One function, ``run_job``, that the CLI (and the demo) call. It never prints: what happened is in
the returned ``JobResult`` and in the results workbook, which is written whatever the ending
(finished, stopped, interrupted).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bulk_provision import __version__
from bulk_provision.checkpoint import Checkpoint
from bulk_provision.errors import (
    EXIT_CODES,
    AuthError,
    BulkProvisionError,
    CheckpointError,
    Ending,
    Interrupted,
    RunStopped,
    UsageError,
)
from bulk_provision.glance.models import GlanceUser
from bulk_provision.lifecycle import OPEN_STATES, ending_for
from bulk_provision.model import Action, Outcome, RowResult
from bulk_provision.paths import Role, check_distinct, journal_roles
from bulk_provision.plan import plan_create, plan_upsert, suspend_limit, suspensions
from bulk_provision.provision import (
    EngineReport,
    GlanceApi,
    Progress,
    Provisioner,
    StopReason,
)
from bulk_provision.report.failed_rows import failed_rows_path, row_problems, write_failed_rows
from bulk_provision.report.results import (
    RunSummary,
    outcome_counts,
    split_results,
    write_results,
)
from bulk_provision.retry import EngineOptions, call_with_retries
from bulk_provision.roster import Roster, read_roster
from bulk_provision.validation import ValidationResult, validate_roster

MODES = ("create", "upsert", "sync")


@dataclass
class JobSpec:
    """Everything ``run`` was asked to do, already merged from options, config and defaults."""

    roster_path: Path
    endpoint: str
    sheet: str | None = None
    column_map: Mapping[str, str] | None = None
    out: Path | None = None
    checkpoint: Path | None = None
    mode: str = "create"
    fresh: bool = False
    skip_invalid: bool = False
    retry_failed: bool = False
    audio_provider: str = ""
    roles: Sequence[str] | None = None
    engine: EngineOptions = field(default_factory=EngineOptions)
    set_passwords: bool = False
    protect: Sequence[str] = ()
    max_suspend: str = "10%"
    check_roles: bool = False

    @property
    def results_path(self) -> Path:
        return self.out or self.roster_path.with_name(f"{self.roster_path.stem}.results.xlsx")

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or self.roster_path.with_name(
            f"{self.roster_path.name}.checkpoint.sqlite"
        )


@dataclass
class JobResult:
    """How a run ended and what it did; ``exit_code`` follows from ``ending`` (errors.py)."""

    ending: Ending
    results_path: Path
    validation: ValidationResult
    counts: Counter[Outcome] = field(default_factory=Counter)
    stop: StopReason | None = None
    message: str = ""
    rows: list[RowResult] = field(default_factory=list)
    roster: Roster | None = None
    failed_rows_path: Path | None = None  # written when a row failed or was invalid

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.ending]


def server_roles(
    api: GlanceApi,
    configured: Sequence[str] | None,
    options: EngineOptions,
    stop: threading.Event | None = None,
) -> list[str]:
    """Roles Glance lists (ShowRoles omits roles nobody has) plus the ones configured."""
    listed = call_with_retries(api.show_roles, options, what="ShowRoles", stop=stop)
    names = [r.name for r in listed if r.name != "-none-"]
    return sorted({*names, *(configured or ())}, key=str.lower)


def load_and_validate(
    spec: JobSpec, api: GlanceApi | None = None, stop: threading.Event | None = None
) -> tuple[Roster, ValidationResult]:
    roster = read_roster(spec.roster_path, sheet=spec.sheet, column_map=spec.column_map)
    roles = spec.roles
    if spec.check_roles and api is not None:
        roles = server_roles(api, spec.roles, spec.engine, stop)
    return roster, validate_roster(roster, roles=roles)


def _every_user(api: GlanceApi, stop: threading.Event | None) -> list[GlanceUser]:
    users = []
    for user in api.show_users(page_count=1000):
        if stop is not None and stop.is_set():
            raise Interrupted("interrupted while reading the users from Glance; nothing changed")
        users.append(user)
    return users


def build_plan(
    spec: JobSpec,
    roster: Roster,
    validation: ValidationResult,
    api: GlanceApi | None,
    stop: threading.Event | None = None,
) -> tuple[list[Action], str | None]:
    """The actions for the valid rows; upsert and sync read a ShowUsers snapshot first.

    The second value is why sync must refuse this plan (more suspensions than --max-suspend
    allows), or None. ``run`` refuses it before any write; ``plan`` still shows it.
    """
    invalid = validation.invalid_rows
    frame = roster.frame
    rows = [n for n in frame.index if n not in invalid]
    if spec.mode == "create":
        return plan_create(frame, rows, audio_provider=spec.audio_provider), None
    assert api is not None
    users = call_with_retries(
        lambda: _every_user(api, stop), spec.engine, what="ShowUsers (snapshot)", stop=stop
    )
    # Users without a PartnerUserID cannot be addressed through PAPI: never planned for.
    snapshot = {u.partner_user_id: u for u in users if u.partner_user_id}
    actions = plan_upsert(
        frame,
        rows,
        snapshot,
        audio_provider=spec.audio_provider,
        set_passwords=spec.set_passwords,
        reinstate=spec.mode == "sync",
    )
    if spec.mode == "sync":
        keys = set(frame["PartnerUserID"]) if "PartnerUserID" in frame.columns else set()
        extra = suspensions(snapshot, keys, spec.protect)
        active = sum(1 for u in users if not u.suspended)
        limit = suspend_limit(spec.max_suspend, active)
        actions.extend(extra)
        if len(extra) > limit:
            return actions, (
                f"sync would suspend {len(extra)} of {active} active users, more than "
                f"--max-suspend {spec.max_suspend} allows ({limit}); nothing was changed. "
                "Check the roster is complete (bulk-provision plan lists them), use --protect, "
                "or raise --max-suspend"
            )
    return actions, None


def run_job(
    spec: JobSpec,
    api_factory: Callable[[], GlanceApi],
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> JobResult:
    """Run the pipeline; the results workbook is always written before returning."""
    started = datetime.now(UTC)
    check_output(spec)
    # The client (and any password prompt) only once it is needed: a roster that fails
    # validation is reported without credentials.
    api = api_factory() if spec.check_roles else None
    roster, validation = load_and_validate(spec, api, stop)
    if not validation.ok and not spec.skip_invalid:
        result = JobResult(Ending.INVALID, spec.results_path, validation, roster=roster)
        result.counts = outcome_counts(roster, validation, {})
        _write(spec, roster, validation, {}, result, started)
        return result
    with Checkpoint.open(
        spec.checkpoint_path,
        roster_sha256=roster.sha256,
        roster_path=str(spec.roster_path),
        mode=spec.mode,
        fresh=spec.fresh or start_over(spec.checkpoint_path, roster.sha256, spec.mode),
    ) as journal:
        api = api or api_factory()
        crash: Exception | None = None
        try:
            total = _plan(spec, roster, validation, journal, api, stop)
        except (AuthError, RunStopped, Interrupted) as exc:  # nothing was sent
            report = _stopped_by(exc)
        else:
            try:
                report = _provision(spec, roster, journal, total, api, progress, stop)
            except Exception as exc:  # noqa: BLE001 - the workbook first, then the error
                crash, report = _user_error(exc, spec), _stopped_by(exc)
        results = journal.results()
        result = JobResult(Ending.FINISHED, spec.results_path, validation, roster=roster,
                           stop=report.reason, message=report.message)
        result.counts = outcome_counts(roster, validation, results)
        result.ending = ending_for(
            result.counts,
            interrupted=report.reason is StopReason.INTERRUPTED,
            stopped=report.reason is not StopReason.COMPLETED,
        )
        if isinstance(crash, BulkProvisionError):
            result.ending = crash.ending
        journal.set_meta(last_exit_code=str(result.exit_code))
    _write(spec, roster, validation, results, result, started)
    if crash is not None:
        raise crash
    return result


def _stopped_by(exc: Exception) -> EngineReport:
    if isinstance(exc, AuthError):
        return EngineReport(StopReason.AUTH, str(exc))
    if isinstance(exc, Interrupted):
        return EngineReport(StopReason.INTERRUPTED, "")
    return EngineReport(StopReason.TRANSIENT, str(exc))


def _user_error(exc: Exception, spec: JobSpec) -> Exception:
    """A failure inside the workers as the error the user is shown (bugs stay as they are)."""
    if isinstance(exc, sqlite3.Error | CheckpointError):
        error = RunStopped(
            f"the checkpoint {spec.checkpoint_path} could not be written ({exc}); is the disk "
            "full? Nothing is lost: fix it and re-run the same command to resume"
        )
        error.__cause__ = exc
        return error
    return exc


def start_over(path: Path, roster_sha256: str, mode: str) -> bool:
    """True when the journal at ``path`` holds a finished run that a new run should replace.

    Nightly runs get a new roster every night: once the last run has nothing pending or in
    doubt, a different roster (or mode) starts a new journal. upsert and sync also start over on
    the same roster, since their point is to match Glance as it is now (a new ShowUsers
    snapshot). An unfinished run is always resumed, or refused for another roster unless
    ``--fresh``, so no resume is lost by mistake.
    """
    if not path.is_file():
        return False
    try:
        with Checkpoint.read_only(path) as old:
            meta, states = old.meta(), old.state_counts()
    except CheckpointError:
        return False  # Checkpoint.open gives the clear message
    finished = not any(states[state] for state in OPEN_STATES)
    same = meta.get("roster_sha256") == roster_sha256 and meta.get("mode") == mode
    return finished and (not same or mode != "create")


def check_output(spec: JobSpec, *others: Role) -> None:
    """Refuse an unwritable results path, or an output that is the roster, the journal or
    another output (``others``: e.g. ``--log-file``), before any work, not after hours of it."""
    path = spec.results_path
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UsageError(f"--out {path}: the results are a workbook, name it .xlsx")
    check_distinct([
        Role("", "the roster itself", spec.roster_path, output=False),
        Role("", "the failed-rows file", failed_rows_path(spec.roster_path, path)),
        *journal_roles(spec.checkpoint_path),
        Role("--out", "the results workbook", path),
        *others,
    ])
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: permission denied")


def _plan(
    spec: JobSpec,
    roster: Roster,
    validation: ValidationResult,
    journal: Checkpoint,
    api: GlanceApi,
    stop: threading.Event | None,
) -> int:
    """Record a new plan, or keep the one recorded; returns how many actions it has."""
    if journal.has_plan:
        if spec.retry_failed:
            journal.retry_failed()
        return sum(journal.state_counts().values())
    actions, refusal = build_plan(spec, roster, validation, api, stop)
    if refusal is not None:
        raise UsageError(refusal)
    journal.record_plan(actions)
    return len(actions)


def _provision(
    spec: JobSpec,
    roster: Roster,
    journal: Checkpoint,
    total: int,
    api: GlanceApi,
    progress: Progress | None,
    stop: threading.Event | None,
) -> EngineReport:
    # A resumed run reads only what is left, not the whole plan (DESIGN P3).
    todo = journal.todo()
    if not todo:
        if progress is not None and total:
            progress.notice(
                f"nothing left to send: an earlier run finished all {total} rows "
                f"({spec.checkpoint_path}); the results are written again"
            )
        return EngineReport(StopReason.COMPLETED)
    if progress is not None and len(todo) < total:
        progress.notice(
            f"resuming {spec.checkpoint_path}: {total - len(todo)} of {total} done "
            f"before, {len(todo)} to go"
        )
    if spec.mode == "create" and not spec.check_roles:
        stopped = _first_contact(api, spec.engine, stop)
        if stopped is not None:
            return stopped
    passwords = _passwords(roster, [item.action for item in todo])
    engine = Provisioner(api, journal, passwords, spec.engine, progress=progress, stop=stop)
    return engine.run(todo)


def _first_contact(
    api: GlanceApi, options: EngineOptions, stop: threading.Event | None
) -> EngineReport | None:
    """One read-only call before any write: wrong credentials or a dead endpoint stop the run
    at once, with nothing sent (upsert and sync get this from their ShowUsers snapshot)."""
    try:
        call_with_retries(
            api.show_roles, options, what="the first contact with Glance (ShowRoles)", stop=stop,
        )
    except (AuthError, RunStopped, Interrupted) as exc:
        return _stopped_by(exc)
    return None


def _passwords(roster: Roster, actions: Sequence[Action]) -> dict[str, str]:
    """key -> UserPW for the actions that send one; held in memory only."""
    if "UserPW" not in roster.frame.columns:
        return {}
    column = roster.frame["UserPW"]
    return {
        a.key: str(column.at[a.row]) for a in actions if a.send_password and a.row is not None
    }


def _write(
    spec: JobSpec,
    roster: Roster,
    validation: ValidationResult,
    results: Mapping[str, RowResult],
    job: JobResult,
    started: datetime,
) -> None:
    by_row, extra = split_results(results.values())
    job.rows = list(results.values())
    summary = RunSummary(
        tool_version=__version__,
        roster_path=str(spec.roster_path),
        roster_sha256=roster.sha256,
        mode=spec.mode,
        endpoint=spec.endpoint,
        started=started,
        finished=datetime.now(UTC),
        exit_code=job.exit_code,
    )
    try:
        write_results(
            spec.results_path, roster, by_row, validation.problems, summary, extra_results=extra
        )
    except OSError as exc:
        raise UsageError(
            f"cannot write the results workbook {spec.results_path}: {exc.strerror or exc}; "
            "the checkpoint has every outcome: re-run the same command with another --out"
        ) from exc
    job.failed_rows_path = _write_failed(spec, roster, validation, job)


def _write_failed(
    spec: JobSpec, roster: Roster, validation: ValidationResult, job: JobResult
) -> Path | None:
    """The failed-rows file beside the results (report/failed_rows.py); removed when none."""
    path = failed_rows_path(spec.roster_path, spec.results_path)
    try:
        return write_failed_rows(path, roster, row_problems(roster, validation, job.rows))
    except OSError as exc:
        raise UsageError(
            f"cannot write the failed-rows file {path}: {exc.strerror or exc}; the results "
            f"workbook {spec.results_path} has every outcome"
        ) from exc
