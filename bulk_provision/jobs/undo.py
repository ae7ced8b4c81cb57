"""Carrying out ``undo CHECKPOINT``: the undo plan workbook, or (``--yes``) a journaled run.

With ``--yes`` the undo is itself a run: its own journal (``<checkpoint>.undo.sqlite``) records
the reverse actions once the fresh snapshot has been checked, then the same Engine and row
lifecycle as ``run`` carry them out exactly once, resumably. A re-run after a crash does not plan
again (the users it already reversed would look "changed since"): it resumes the recorded plan,
and first checks each row left in doubt against a fresh snapshot, so a reversal that reached
Glance before the crash is confirmed, not sent again.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bulk_provision import __version__
from bulk_provision.errors import EXIT_CODES, CheckpointError, Ending, Refused, RunStopped
from bulk_provision.glance.api import GlanceApi
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import RowState, ending_for
from bulk_provision.journal.previous import previous_run
from bulk_provision.model import Action, ActionKind, Outcome, Progress, RowResult, StopReason
from bulk_provision.plan.actions import KnownUser
from bulk_provision.plan.planner import fresh_snapshot
from bulk_provision.plan.undo import (
    UNDO_MODE,
    Note,
    UndoPlan,
    check_targets,
    reached,
    read_undo_plan,
    refuse,
    source_identity,
)
from bulk_provision.provision.engine import Engine, EngineReport
from bulk_provision.provision.row import SUCCESS
from bulk_provision.report.failed_rows import failed_rows_path
from bulk_provision.report.undo_report import write_undo_plan, write_undo_results
from bulk_provision.settings.paths import Role, check_workbook_output, journal_roles
from bulk_provision.settings.selection import wave_tag
from bulk_provision.settings.spec import UndoSpec

VERIFIED = "confirmed with ShowUsers after an unanswered request"


@dataclass
class UndoResult:
    """What an undo did (or, without ``--yes``, would do)."""

    ending: Ending
    workbook: Path
    carried_out: bool
    planned: Counter[ActionKind] = field(default_factory=Counter)
    counts: Counter[Outcome] = field(default_factory=Counter)
    notes: list[Note] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)
    refusal: str | None = None
    message: str = ""
    roster: str = ""  # the roster of the run undone, as its journal records it
    actions: list[Action] = field(default_factory=list)  # the plan (without --yes)
    glance: Mapping[str, KnownUser] = field(default_factory=dict)  # the snapshot it checked

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.ending]


def check_undo_paths(spec: UndoSpec, meta: Mapping[str, str], *, carried_out: bool) -> Path:
    """The workbook path, refused (exit 2) if it is the checkpoint, the undo's journal, or the
    run's roster, results workbook or failed-rows file (as the run's journal ``meta`` names
    them), and checked writable (DESIGN.md section 11)."""
    path = spec.workbook_path(carried_out=carried_out)
    check_workbook_output("--out", "the undo workbook", path, [
        *journal_roles(spec.checkpoint),
        *(Role("", "the undo journal", r.path, output=False)
          for r in journal_roles(spec.journal_path)),
        *run_files(spec.checkpoint, meta)])
    return path


def run_files(checkpoint: Path, meta: Mapping[str, str]) -> list[Role]:
    """The run's roster, results workbook and failed-rows file, as inputs no undo may replace:
    each as recorded and, when recorded relative, also beside the checkpoint (the run may have
    been started from another folder)."""
    roster_text = meta.get("roster_path", "")
    if not roster_text:
        return []
    roster = Path(roster_text)
    tag = wave_tag(meta.get("selection", ""))
    results = Path(meta.get("results_path")
                   or roster.with_name(f"{roster.stem}{tag}.results.xlsx"))
    named = [("the run's roster", roster), ("the run's results workbook", results),
             ("the run's failed-rows file", failed_rows_path(roster, results, tag))]
    roles = []
    for noun, path in named:
        roles.append(Role("", noun, path, output=False))
        if not path.is_absolute():
            roles.append(Role("", noun, checkpoint.parent / path.name, output=False))
    return roles


def about(spec: UndoSpec, plan: UndoPlan) -> list[tuple[str, object]]:
    meta = plan.meta
    return [("tool version", __version__), ("undoes", str(spec.checkpoint)),
            ("roster", meta.get("roster_path", "")), ("mode of the run", meta.get("mode", "")),
            *([("wave", meta["selection"])] if meta.get("selection") else []),
            ("endpoint", spec.connection.base_url)]


def plan_undo(spec: UndoSpec, api: GlanceApi) -> UndoResult:
    """Without ``--yes``: the undo plan workbook only, checked against a fresh snapshot."""
    plan = read_undo_plan(spec.checkpoint, delete_created=spec.delete_created)
    path = check_undo_paths(spec, plan.meta, carried_out=False)
    snapshot = fresh_snapshot(api, spec.engine)
    refusal = check_targets(plan, snapshot, protect=spec.protect, max_suspend=spec.max_suspend)
    write_undo_plan(path, plan.actions, plan.notes, about(spec, plan), refusal)
    ending = Ending.USAGE if refusal else Ending.FINISHED
    return UndoResult(ending, path, False, Counter(a.kind for a in plan.actions),
                      notes=plan.notes, refusal=refusal, roster=plan.meta.get("roster_path", ""),
                      actions=plan.actions, glance=snapshot)


def carry_out_undo(
    spec: UndoSpec, api_factory: Callable[[], GlanceApi], *,
    progress: Progress | None = None, stop: threading.Event | None = None,
) -> UndoResult:
    """With ``--yes``: plan (once), then carry out the reversal; the results workbook is
    always written once the journal holds a plan."""
    plan = read_undo_plan(spec.checkpoint, delete_created=spec.delete_created)
    path = check_undo_paths(spec, plan.meta, carried_out=True)
    identity = source_identity(plan.meta, spec.checkpoint)
    with Checkpoint.open(spec.journal_path, roster_sha256=identity,
                         roster_path=str(spec.checkpoint), mode=UNDO_MODE,
                         fresh=_start_over(spec.journal_path, identity)) as journal:
        asked = undo_options(spec)
        if journal.has_plan:
            check_same_undo(journal, asked)
        api = api_factory()
        if journal.has_plan:
            notes = [Note(*n) for n in json.loads(journal.meta().get("notes", "[]"))]
            _verify_doubts(journal, api, spec, stop)
        else:
            snapshot = fresh_snapshot(api, spec.engine, stop)
            refusal = check_targets(plan, snapshot, protect=spec.protect,
                                    max_suspend=spec.max_suspend)
            if refusal is not None:
                raise refuse(plan, refusal)
            notes = plan.notes
            journal.set_meta(notes=json.dumps([[n.row, n.key, n.reason] for n in notes]),
                             undo_options=asked)
            journal.record_plan(plan.actions)
        crash: Exception | None = None
        try:
            report = _provision(journal, api, spec, progress, stop)
        except Exception as exc:  # noqa: BLE001 - the workbook first, then the error
            crash, report = exc, EngineReport(StopReason.TRANSIENT, str(exc))
        result = _result(journal, path, notes, report)
        result.roster = plan.meta.get("roster_path", "")
        journal.set_meta(last_exit_code=str(result.exit_code))
    write_undo_results(path, result.rows, notes,
                       [*about(spec, plan), ("exit code", result.exit_code),
                        ("finished", datetime.now(UTC).isoformat(timespec="seconds"))])
    if crash is not None:
        raise crash
    return result


def undo_options(spec: UndoSpec) -> str:
    """The options that decide what an undo does, as its journal records them."""
    return json.dumps({"delete_created": spec.delete_created}, sort_keys=True)


def check_same_undo(journal: Checkpoint, asked: str) -> None:
    """Refuse (exit 2) an undo whose options differ from the one its journal holds: resuming
    that journal would carry out the earlier request and call it this one."""
    recorded = journal.meta().get("undo_options", undo_options(UndoSpec(Path("."))))
    if recorded == asked:
        return
    was = "with" if json.loads(recorded).get("delete_created") else "without"
    raise Refused(
        f"{journal.path} holds an undo of this run made {was} --delete-created; nothing was "
        f"changed. Re-run that command (it finishes or reports that undo), or move {journal.path} "
        "away to start another undo"
    )


def _start_over(path: Path, identity: str) -> bool:
    """A finished undo journal of another run (the checkpoint was reused since) is replaced;
    an unfinished one is refused: it may still have reversals to make."""
    previous = previous_run(path)
    if previous is None or previous.meta.get("roster_sha256") == identity:
        return False
    if not previous.finished:
        raise CheckpointError(
            f"{path} holds an unfinished undo of an earlier run that used this checkpoint; "
            "the checkpoint now holds another run. Move that file away to undo the new run"
        )
    return True


def _verify_doubts(
    journal: Checkpoint, api: GlanceApi, spec: UndoSpec, stop: threading.Event | None
) -> None:
    """Rows an earlier undo left in doubt: done if Glance already shows the reversal."""
    doubtful = journal.in_state(RowState.IN_DOUBT)
    if not doubtful:
        return
    snapshot = fresh_snapshot(api, spec.engine, stop)
    for action in doubtful:
        if reached(action, snapshot.get(action.key)):
            journal.confirm(RowResult(action.key, action.row, action.kind,
                                      SUCCESS[action.kind], VERIFIED))


def _provision(
    journal: Checkpoint, api: GlanceApi, spec: UndoSpec, progress: Progress | None,
    stop: threading.Event | None,
) -> EngineReport:
    todo = journal.todo()
    if not todo:
        return EngineReport(StopReason.COMPLETED)
    try:
        return Engine(api, journal, {}, spec.engine, progress=progress, stop=stop).run(todo)
    except RunStopped as exc:
        return EngineReport(StopReason.TRANSIENT, str(exc))


def _result(
    journal: Checkpoint, path: Path, notes: list[Note], report: EngineReport
) -> UndoResult:
    rows = list(journal.results().values())
    counts = Counter(r.outcome for r in rows)
    ending = ending_for(counts, interrupted=report.reason is StopReason.INTERRUPTED,
                        stopped=report.reason is not StopReason.COMPLETED)
    return UndoResult(ending, path, True, Counter(r.kind for r in rows), counts, notes, rows,
                      message=report.message)
