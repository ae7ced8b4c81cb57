"""The pipeline behind ``bulk-provision run``: load, validate, plan, provision, report.

One function, ``run_job``, that the CLI (and the demo) call. It never prints: what happened is in
the returned ``JobResult`` and in the results workbook, which is written whatever the ending
(finished, stopped, interrupted).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bulk_provision import __version__
from bulk_provision.errors import (
    EXIT_CODES,
    AuthError,
    BulkProvisionError,
    CheckpointError,
    Ending,
    Interrupted,
    RosterError,
    RunStopped,
    UsageError,
)
from bulk_provision.glance.api import GlanceApi
from bulk_provision.jobs.salvage import user_error, write_elsewhere
from bulk_provision.journal.checkpoint import Checkpoint, Todo
from bulk_provision.journal.lifecycle import ending_for
from bulk_provision.journal.previous import previous_run
from bulk_provision.model import Action, Outcome, Progress, RowResult, StopReason
from bulk_provision.plan.planner import load_and_validate
from bulk_provision.plan.resume import check_rows, glance_identity, row_hashes, start_over
from bulk_provision.plan.sources import PlanSource, plan_source
from bulk_provision.provision.engine import Engine, EngineReport
from bulk_provision.provision.retry import call_with_retries
from bulk_provision.report.failed_rows import failed_rows_path, row_problems, write_failed_rows
from bulk_provision.report.results import (
    RunSummary,
    outcome_counts,
    split_results,
    write_results,
)
from bulk_provision.roster.read import Roster
from bulk_provision.roster.recipe import recipe_line, recipe_sha256
from bulk_provision.roster.selection import describe
from bulk_provision.roster.validation import ValidationResult
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.paths import Role, check_workbook_output, journal_roles
from bulk_provision.settings.spec import JobSpec

__all__ = ["JobResult", "check_output", "run_job"]


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
    spec: JobSpec | None = None  # what the run did: run --plan's mode, options and wave

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.ending]


def _refuse_without_recipe(spec: JobSpec, error: RosterError) -> None:
    """A roster that cannot be read without a recipe, where the journal holds an unfinished
    run made with one: the recipe was forgotten, so say that (not "map the header")."""
    if spec.reading is not None:
        return
    previous = previous_run(spec.checkpoint_path)
    digest = previous.meta.get("recipe_sha256", "") if previous else ""
    if previous is not None and digest and not previous.finished:
        raise CheckpointError(
            f"checkpoint {spec.checkpoint_path} holds an unfinished run made with a recipe "
            f"(SHA-256 {digest[:12]}), and this run has none: finish it with the same "
            "--recipe, or use --fresh (or another --checkpoint) to start over") from error


def run_job(
    spec: JobSpec,
    api_factory: Callable[[], GlanceApi],
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    source: PlanSource | None = None,
) -> JobResult:
    """Run the pipeline: load, plan (from ``source``: by default a fresh plan, or the approved
    plan ``spec.plan`` names), provision, report. The results workbook is always written
    before returning."""
    started = datetime.now(UTC)
    check_output(spec)
    source = source or plan_source(spec)
    planned = source.spec_for(spec)  # run --plan: the plan decides the mode and the options
    if planned.selection != spec.selection:  # and the wave: its own default files
        check_output(planned)
    spec = planned
    # The client (and any password prompt) only once it is needed: a roster that fails
    # validation is reported without credentials.
    api = api_factory() if spec.check_roles else None
    try:
        roster, validation = load_and_validate(spec, api, stop)
    except RosterError as exc:
        _refuse_without_recipe(spec, exc)
        raise
    source.check_roster(roster)
    if not validation.ok and not spec.skip_invalid:
        result = JobResult(Ending.INVALID, spec.results_path, validation, roster=roster,
                           spec=spec)
        result.counts = outcome_counts(roster, validation, {})
        _write(spec, roster, validation, {}, result, started)
        return result
    glance = glance_identity(spec.endpoint, spec.connection.login)
    with Checkpoint.open(
        spec.checkpoint_path,
        roster_sha256=roster.sha256,
        roster_path=str(spec.roster_path),
        mode=spec.mode,
        fresh=spec.fresh or start_over(spec.checkpoint_path, roster.sha256, spec.mode,
                                       source.checksum, glance, recipe_sha256(roster),
                                       spec.selection_text),
        glance=glance,
        recipe_sha256=recipe_sha256(roster),
        selection=spec.selection_text,
    ) as journal:
        if spec.profile:
            journal.set_meta(profile=spec.profile)  # for status and the operator: which one
        api = api or api_factory()
        crash: Exception | None = None
        known: dict[str, RowResult] = {}  # outcomes Glance gave, also held in memory
        try:
            total, todo = _plan(spec, roster, validation, journal, api, stop, source)
        except (AuthError, RunStopped, Interrupted) as exc:  # nothing was sent
            report = _stopped_by(exc)
        else:
            try:
                report = _provision(spec, roster, journal, todo, total, api, progress, stop,
                                    known)
            except Exception as exc:  # noqa: BLE001 - the workbook first, then the error
                crash = user_error(exc, spec.checkpoint_path)
                report = _stopped_by(crash)
        results = _results(journal, known)
        result = JobResult(Ending.FINISHED, spec.results_path, validation, roster=roster,
                           stop=report.reason, message=report.message, spec=spec)
        result.counts = outcome_counts(roster, validation, results)
        result.ending = ending_for(
            result.counts,
            interrupted=report.reason is StopReason.INTERRUPTED,
            stopped=report.reason is not StopReason.COMPLETED,
        )
        if isinstance(crash, RunStopped):  # a full disk: told like any other stop (exit 4)
            crash = None
        elif isinstance(crash, BulkProvisionError):
            result.ending = crash.ending
        _record_exit(journal, result)
        recorded = result.ending
        try:
            _write(spec, roster, validation, results, result, started)
        finally:
            if result.ending is not recorded:  # the results are not where they were asked
                _record_exit(journal, result)
    if crash is not None:
        raise crash
    return result


def _stopped_by(exc: Exception) -> EngineReport:
    if isinstance(exc, AuthError):
        return EngineReport(StopReason.AUTH, str(exc))
    if isinstance(exc, Interrupted):
        return EngineReport(StopReason.INTERRUPTED, "")
    return EngineReport(StopReason.TRANSIENT, str(exc))


def _results(journal: Checkpoint, known: Mapping[str, RowResult]) -> dict[str, RowResult]:
    """Every planned row from the journal, overlaid with the outcomes Glance gave that the
    journal could not record (a full disk); only those when it cannot even be read."""
    try:
        results = journal.results(known)
    except (sqlite3.Error, CheckpointError):
        results = {}
    results.update(known)  # also those the journal could not even record
    return results


def _record_exit(journal: Checkpoint, result: JobResult) -> None:
    """The exit code in the journal (for ``status``); a journal that can no longer be written
    (a full disk) must not cost the results workbook, so that failure becomes a stop too."""
    try:
        journal.set_meta(last_exit_code=str(result.exit_code),
                         results_path=str(result.results_path))  # undo protects it
    except (sqlite3.Error, CheckpointError) as exc:
        if result.ending is not Ending.STOPPED:
            result.ending, result.stop = Ending.STOPPED, StopReason.TRANSIENT
            result.message = str(user_error(exc, journal.path))


def check_output(spec: JobSpec, *others: Role) -> None:
    """Refuse an unwritable results path, a missing checkpoint folder, or an output that is the
    roster, the journal or another output (``others``: e.g. ``--log-file``), before any work,
    not after hours of it."""
    folder = spec.checkpoint_path.parent
    if not folder.is_dir():  # never created by the lock: it would not be owner-only
        raise UsageError(f"--checkpoint {spec.checkpoint_path}: folder {folder} does not exist; "
                         "create it (mkdir -m 700) or choose another")
    check_workbook_output("--out", "the results workbook", spec.results_path, [
        Role("", "the roster itself", spec.roster_path, output=False),
        Role("", "the failed-rows file",
             failed_rows_path(spec.roster_path, spec.results_path, spec.wave_tag)),
        *journal_roles(spec.checkpoint_path),
    ], later=others, suffixes=(".xlsx", ".xlsm"))


def _plan(
    spec: JobSpec,
    roster: Roster,
    validation: ValidationResult,
    journal: Checkpoint,
    api: GlanceApi,
    stop: threading.Event | None,
    source: PlanSource,
) -> tuple[int, list[Todo] | None]:
    """Record a new plan from ``source``, or keep the one recorded; returns how many actions
    it has, and the open rows of a plan just recorded (None for a resume: they are read from
    the journal, ``--retry-failed`` included)."""
    if journal.has_plan:
        check_rows(journal, roster, journal.todo())
        source.check_resumed(journal)
        if spec.retry_failed:
            journal.retry_failed()
        return sum(journal.state_counts().values()), None
    actions = source.actions(spec, roster, validation, api, stop)
    try:
        source.before_recording(journal)
        todo = journal.record_plan(actions, row_hashes=row_hashes(roster, actions))
    except (sqlite3.Error, CheckpointError) as exc:  # a full disk: a stop, nothing was sent
        raise user_error(exc, journal.path) from exc
    return len(actions), todo


def _provision(
    spec: JobSpec,
    roster: Roster,
    journal: Checkpoint,
    recorded: list[Todo] | None,
    total: int,
    api: GlanceApi,
    progress: Progress | None,
    stop: threading.Event | None,
    known: dict[str, RowResult],
) -> EngineReport:
    # A resumed run reads only what is left, not the whole plan (DESIGN P3); a new plan's
    # open rows are the ones just recorded.
    resumed_total = total if recorded is None else 0
    todo = journal.todo() if recorded is None else recorded
    if not todo:
        if progress is not None and resumed_total:
            progress.notice(
                f"nothing left to send: an earlier run finished all {resumed_total} rows "
                f"({spec.checkpoint_path}); the results are written again"
            )
        return EngineReport(StopReason.COMPLETED)
    if progress is not None and len(todo) < resumed_total:  # not rows planned as unchanged
        total = resumed_total
        progress.notice(
            f"resuming {spec.checkpoint_path}: {total - len(todo)} of {total} done "
            f"before, {len(todo)} to go"
        )
    if spec.mode == "create" and not spec.check_roles:
        stopped = _first_contact(api, spec.engine, stop)
        if stopped is not None:
            return stopped
    passwords = _passwords(roster, [item.action for item in todo])
    engine = Engine(api, journal, passwords, spec.engine, progress=progress, stop=stop,
                    outcomes=known)
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
        recipe=recipe_line(roster),
        profile=spec.profile,
        partner_login=spec.connection.login or "",
        selection=spec.selection_text,
        wave=describe(spec.selection, roster) if spec.selection is not None else "",
    )

    def write(path: Path) -> None:
        write_results(path, roster, by_row, validation.problems, summary, extra_results=extra)

    try:
        write(spec.results_path)
    except OSError as exc:
        _results_elsewhere(job)
        summary = replace(summary, exit_code=job.exit_code)
        try:
            job.results_path = write_elsewhere(spec.results_path, write, exc)
        except UsageError:
            job.ending = Ending.USAGE
            raise
        job.message = job.message or (
            f"the results could not be written to {spec.results_path} "
            f"({exc.strerror or exc}); they are in {job.results_path}; a re-run sends nothing "
            "again and writes them where asked"
        )
    job.failed_rows_path = _write_failed(spec, roster, validation, job)


def _results_elsewhere(job: JobResult) -> None:
    """A run whose results are not where they were asked never ends as if all went well: a
    cron job reading ``--out`` would find yesterday's file. It ends as stopped (exit 4): the
    same command, run again, sends nothing and writes the results where asked."""
    if job.ending in (Ending.FINISHED, Ending.FINISHED_WITH_FAILURES):
        job.ending = Ending.STOPPED


def _write_failed(
    spec: JobSpec, roster: Roster, validation: ValidationResult, job: JobResult
) -> Path | None:
    """The failed-rows file beside the results (report/failed_rows.py); removed when none."""
    path = failed_rows_path(spec.roster_path, spec.results_path, spec.wave_tag)
    try:
        return write_failed_rows(path, roster, row_problems(roster, validation, job.rows))
    except OSError as exc:
        raise UsageError(
            f"cannot write the failed-rows file {path}: {exc.strerror or exc}; the results "
            f"workbook {spec.results_path} has every outcome"
        ) from exc
