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
    AuthError,
    BulkProvisionError,
    CheckpointError,
    Interrupted,
    RunStopped,
    UsageError,
)
from bulk_provision.glance.models import GlanceUser
from bulk_provision.model import Action, Outcome, RowResult
from bulk_provision.plan import (
    keyed_snapshot,
    plan_create,
    plan_upsert,
    protected,
    suspend_limit,
    suspensions,
)
from bulk_provision.provision import (
    EngineReport,
    GlanceApi,
    Progress,
    Provisioner,
    StopReason,
)
from bulk_provision.report.results import RunSummary, split_results, write_results
from bulk_provision.retry import EngineOptions, call_with_retries
from bulk_provision.roster import Roster, read_roster
from bulk_provision.salvage import user_error, write_elsewhere
from bulk_provision.validation import ValidationResult, validate_roster

MODES = ("create", "upsert", "sync")

UNKNOWN = (
    "outcome unknown: the request may have reached Glance; re-run the same command to verify "
    "and finish"
)

EXIT_FOR_STOP = {
    StopReason.AUTH: 4,
    StopReason.TRANSIENT: 4,
    StopReason.INTERRUPTED: 130,
}


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
    exit_code: int
    results_path: Path
    validation: ValidationResult
    counts: Counter[str] = field(default_factory=Counter)
    stop: StopReason | None = None
    message: str = ""
    rows: list[RowResult] = field(default_factory=list)
    roster: Roster | None = None


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
    snapshot = keyed_snapshot(users)
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
        # The base: distinct active users sync could suspend or keep (protected ones, the
        # signed-in account among them, and users without a PartnerUserID do not count).
        active = sum(
            1 for key, u in snapshot.items()
            if not u.suspended and not protected(key, u, spec.protect)
        )
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
    check_output(spec.results_path)
    # The client (and any password prompt) only once it is needed: a roster that fails
    # validation is reported without credentials.
    api = api_factory() if spec.check_roles else None
    roster, validation = load_and_validate(spec, api, stop)
    if not validation.ok and not spec.skip_invalid:
        result = JobResult(3, spec.results_path, validation, roster=roster)
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
            work, report = Work([], [], 0), _stopped_by(exc)
        else:
            # A resumed run reads only what is left, not the whole plan (DESIGN P3).
            work = Work(journal.pending(), journal.in_doubt(), total)
            try:
                report = _provision(spec, roster, journal, work, api, progress, stop)
            except Exception as exc:  # noqa: BLE001 - the workbook first, then the error
                crash = user_error(exc, spec.checkpoint_path)
                report = _stopped_by(crash)
        results = _collect(journal, work, report)
        result = JobResult(0, spec.results_path, validation, roster=roster)
        result.exit_code, result.stop, result.message = _exit_code(report, results, validation)
        if isinstance(crash, RunStopped):  # a full disk: told like any other stop (exit 4)
            crash = None
        elif isinstance(crash, BulkProvisionError):
            result.exit_code = crash.exit_code
        _record_exit(journal, result)
    _write(spec, roster, validation, results, result, started)
    if crash is not None:
        raise crash
    return result


def _record_exit(journal: Checkpoint, result: JobResult) -> None:
    """The exit code in the journal (for ``status``); a journal that can no longer be written
    (a full disk) must not cost the results workbook, so that failure becomes a stop too."""
    try:
        journal.set_meta(last_exit_code=str(result.exit_code))
    except (sqlite3.Error, CheckpointError) as exc:
        if result.exit_code != 4:
            error = user_error(exc, journal.path)
            result.exit_code, result.stop, result.message = 4, StopReason.TRANSIENT, str(error)


def _stopped_by(exc: Exception) -> EngineReport:
    if isinstance(exc, AuthError):
        return EngineReport(StopReason.AUTH, str(exc))
    if isinstance(exc, Interrupted):
        return EngineReport(StopReason.INTERRUPTED, "")
    return EngineReport(StopReason.TRANSIENT, str(exc))


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
    finished = states.get("pending", 0) == 0 and states.get("sending", 0) == 0
    same = meta.get("roster_sha256") == roster_sha256 and meta.get("mode") == mode
    return finished and (not same or mode != "create")


def check_output(path: Path) -> None:
    """Refuse an unwritable results path before any work, not after hours of it."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UsageError(f"--out {path}: the results are a workbook, name it .xlsx")
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
            journal.reset_failed()
        return sum(journal.state_counts().values())
    actions, refusal = build_plan(spec, roster, validation, api, stop)
    if refusal is not None:
        raise UsageError(refusal)
    try:
        journal.record_plan(actions)
    except (sqlite3.Error, CheckpointError) as exc:  # a full disk: a stop, nothing was sent
        raise user_error(exc, journal.path) from exc
    return len(actions)


@dataclass
class Work:
    """What is left of the plan: never sent, and sent with the outcome unknown."""

    pending: list[Action]
    in_doubt: list[Action]
    total: int
    known: dict[str, RowResult] = field(default_factory=dict)  # outcomes held in memory

    def __len__(self) -> int:
        return len(self.pending) + len(self.in_doubt)

    def by_key(self) -> dict[str, Action]:
        return {a.key: a for a in (*self.pending, *self.in_doubt)}


def _provision(
    spec: JobSpec,
    roster: Roster,
    journal: Checkpoint,
    work: Work,
    api: GlanceApi,
    progress: Progress | None,
    stop: threading.Event | None,
) -> EngineReport:
    if not work:
        if progress is not None and work.total:
            progress.notice(
                f"nothing left to send: an earlier run finished all {work.total} rows "
                f"({spec.checkpoint_path}); the results are written again"
            )
        return EngineReport(StopReason.COMPLETED)
    if progress is not None and len(work) < work.total:
        progress.notice(
            f"resuming {spec.checkpoint_path}: {work.total - len(work)} of {work.total} done "
            f"before, {len(work)} to go"
        )
    if spec.mode == "create" and not spec.check_roles:
        stopped = _first_contact(api, spec.engine, stop)
        if stopped is not None:
            return stopped
    passwords = _passwords(roster, [*work.pending, *work.in_doubt])
    engine = Provisioner(api, journal, passwords, spec.engine, progress=progress, stop=stop)
    work.known = engine.outcomes  # the same dict: filled as outcomes arrive, kept on a crash
    return engine.run(work.pending, work.in_doubt)


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


def _collect(journal: Checkpoint, work: Work, report: EngineReport) -> dict[str, RowResult]:
    """Finished rows from the journal and from memory (an outcome the journal could not
    record, on a full disk), plus a FAILED line for each row left unresolved."""
    try:
        results = journal.results()
        attempts = journal.unfinished_attempts()
        in_doubt = [a.key for a in journal.in_doubt()]
    except (sqlite3.Error, CheckpointError):  # unreadable too: what this run knows
        results, attempts, in_doubt = {}, {}, [a.key for a in work.in_doubt]
    results.update(work.known)
    left = work.by_key()
    why = dict.fromkeys(in_doubt, UNKNOWN)
    why.update(report.unresolved or {})
    for key, message in why.items():
        action = left.get(key)
        if action is not None and key not in results:
            results[key] = RowResult(key, action.row, action.kind, Outcome.FAILED, message,
                                     attempts=attempts.get(key, 0))
    return results


def _exit_code(
    report: EngineReport, results: Mapping[str, RowResult], validation: ValidationResult
) -> tuple[int, StopReason, str]:
    if report.reason in EXIT_FOR_STOP:
        return EXIT_FOR_STOP[report.reason], report.reason, report.message
    failed = any(r.outcome is Outcome.FAILED for r in results.values())
    return (1 if failed or not validation.ok else 0), report.reason, report.message


def _write(
    spec: JobSpec,
    roster: Roster,
    validation: ValidationResult,
    results: Mapping[str, RowResult],
    job: JobResult,
    started: datetime,
) -> None:
    by_row, extra = split_results(results.values())
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
    def write(path: Path) -> None:
        write_results(path, roster, by_row, validation.problems, summary, extra_results=extra)

    try:
        write(spec.results_path)
    except OSError as exc:
        job.results_path = write_elsewhere(spec.results_path, write, exc)
    job.rows = list(results.values())
    invalid = validation.invalid_rows
    job.counts = Counter(r.outcome.value for r in extra)
    for number in roster.frame.index:
        found = by_row.get(number)
        if found is not None:
            job.counts[found.outcome.value] += 1
        else:
            gone = Outcome.INVALID if number in invalid else Outcome.NOT_ATTEMPTED
            job.counts[gone.value] += 1
