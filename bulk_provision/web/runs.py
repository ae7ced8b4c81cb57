"""The run manager: one thread that carries out the queued runs one at a time.

A run belongs to the server, not to a browser: closing the tab changes nothing, and any number
of pages may watch it through :meth:`Run.snapshot`. Progress arrives through the engine's
``Progress`` protocol (called from the engine's worker threads) into a snapshot guarded by a
lock; the event stream reads that snapshot. Every change of state is saved as the run's record
in the workspace, so History survives a restart; a run the server was carrying out when it
died (even by kill -9) is listed as ``interrupted`` and resumes from its journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bulk_provision.web import engine
from bulk_provision.web.hints import said
from bulk_provision.web.recipes import attached
from bulk_provision.web.workspace import (
    Workspace,
    new_run_id,
    now_text,
    read_json,
    write_private,
)

log = logging.getLogger("bulk_provision.web")

ACTIVE = ("queued", "running")
RESUMABLE = ("stopped", "interrupted")
OPEN_OUTCOMES = ("unfinished", "not attempted")  # rows a Resume still has to do
MODE_WORDS = {"create": "Add new people only", "upsert": "Add and update",
              "sync": "Full sync (also suspends people missing from the file)"}
OUTCOME_WORDS = {
    "created": "Added", "updated": "Updated", "unchanged": "No change",
    "suspended": "Suspended", "reinstated": "Reinstated", "deleted": "Deleted",
    "exists": "Already in Glance", "skipped": "Left, not in Glance",
    "invalid": "Not sent: problems in the file", "failed": "Glance refused",
    "unfinished": "Not finished (Resume finishes it)", "not attempted": "Not reached (Resume)",
}
STATE_FOR_EXIT = {0: "finished", 1: "finished", 3: "invalid", 4: "stopped", 130: "stopped"}
ENDINGS = {
    "queued": "Waiting for the run before it to finish",
    "running": "Running",
    "finished": "Finished",
    "invalid": "Invalid rows; nothing was sent",
    "stopped": "Stopped; nothing is lost, Resume finishes it",
    "interrupted": "Interrupted when the server stopped; Resume finishes it",
    "error": "Could not run",
}


class RunProgress:
    """The engine's ``Progress``: a thread-safe snapshot of one run's progress."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.done = 0
        self.retrying_now = 0
        self.counts: Counter[str] = Counter()
        self.failures: deque[dict[str, Any]] = deque(maxlen=8)
        self.notices: deque[str] = deque(maxlen=4)
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        with self._lock:
            self.total, self.started = total, time.monotonic()

    def result(self, result: engine.RowResult) -> None:
        outcome = str(result.outcome.value)
        with self._lock:
            self.done += 1
            self.counts[outcome] += 1
            if outcome in ("failed", "unfinished"):
                self.failures.appendleft({"row": result.row or "", "key": result.key,
                                          "outcome": outcome, "message": result.message})

    def retrying(self, delta: int) -> None:
        with self._lock:
            self.retrying_now = max(0, self.retrying_now + delta)

    def notice(self, message: str) -> None:
        with self._lock:
            self.notices.append(message)

    def view(self) -> dict[str, Any]:
        with self._lock:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            rate = self.done / elapsed
            left = max(self.total - self.done, 0)
            return {
                "total": self.total, "done": self.done, "retrying": self.retrying_now,
                "counts": dict(self.counts), "failures": list(self.failures),
                "notices": list(self.notices), "rate": round(rate, 1),
                "eta": round(left / rate) if rate > 0 and left else None,
                "percent": int(100 * self.done / self.total) if self.total else 0,
            }


@dataclass
class Run:
    id: str
    sha256: str
    roster_name: str
    user: str
    options: engine.RunOptions
    state: str = "queued"
    created: str = field(default_factory=now_text)
    started: str = ""
    finished: str = ""
    exit_code: int | None = None
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    resumes: str = ""
    results: bool = False
    plan: str = ""  # the previewed plan it carries out: runs/<id>.plan.xlsx of its roster
    undoes: str = ""  # an undo: the run it reverses (its plan is runs/<that id>.undo-plan.xlsx)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    progress: RunProgress = field(default_factory=RunProgress, repr=False)

    def record(self) -> dict[str, Any]:
        names = ("id", "sha256", "roster_name", "user", "state", "created", "started",
                 "finished", "exit_code", "message", "counts", "resumes", "results", "plan",
                 "undoes")
        data = {name: getattr(self, name) for name in names}
        data["options"] = asdict(self.options)
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Run:
        raw = data.get("options") or {}
        options = engine.RunOptions(
            mode=str(raw.get("mode", "create")), skip_invalid=bool(raw.get("skip_invalid")),
            set_passwords=bool(raw.get("set_passwords")),
            max_suspend=str(raw.get("max_suspend", "10%")),
            protect=tuple(str(p) for p in raw.get("protect", ())))
        run = cls(str(data["id"]), str(data["sha256"]), str(data.get("roster_name", "")),
                  str(data.get("user", "")), options)
        for name in ("state", "created", "started", "finished", "message", "resumes", "plan",
                     "undoes"):
            setattr(run, name, str(data.get(name) or ""))
        run.exit_code = data.get("exit_code")
        run.counts = {str(k): int(v) for k, v in (data.get("counts") or {}).items()}
        run.results = bool(data.get("results"))
        return run

    @property
    def ending(self) -> str:
        if self.state == "finished" and self.exit_code == 1:
            return "Finished; some rows failed or were invalid (see the results)"
        if self.state == "finished":
            return "Finished: every row ended well"
        return ENDINGS.get(self.state, self.state)


def private_copy(source: Path, target: Path) -> None:
    """A copy readable by the server's account only (personal data)."""
    write_private(target, source.read_bytes())


class RunManager:
    """Queue and carry out runs, one at a time, on a thread owned by the server."""

    def __init__(self, workspace: Workspace, connection: engine.Connection) -> None:
        self.workspace = workspace
        self.connection = connection
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[Run] = deque()
        self._closing = False
        self._runs: dict[str, Run] = {}
        for data in workspace.run_records():
            try:
                run = Run.from_record(data)
            except (KeyError, TypeError, ValueError):
                continue
            if run.state in ACTIVE:  # the server stopped (or was killed) under it
                run.state = "interrupted"
                run.counts = self._journal_outcomes(run.sha256)
                self._save(run)
            self._runs[run.id] = run
        self._thread = threading.Thread(target=self._work, name="run-manager", daemon=True)
        self._thread.start()

    # -- asked by the page ------------------------------------------------------------------
    def submit(self, sha256: str, options: engine.RunOptions, user: str,
               resumes: str = "", plan: Path | None = None, undoes: str = "") -> Run:
        """Queue a run of the roster; with ``plan`` (a previewed plan workbook), a run that
        carries out exactly that plan (a copy is kept with the run, for Resume); with
        ``undoes``, the undo of that run (its previewed undo plan, confirmed)."""
        name = str(self.workspace.roster_info(sha256).get("name", ""))
        run = Run(new_run_id(), sha256, name, user, options.check(), resumes=resumes,
                  undoes=undoes)
        if undoes:
            run.plan = f"{undoes}.undo-plan.xlsx"
        else:
            self._check_unfinished(run)
        if plan is not None and not undoes:
            runs = self.workspace.runs_dir(sha256)
            if plan.parent != runs:  # a new Start; a Resume reuses the run's own copy
                copy = runs / f"{run.id}.plan.xlsx"
                private_copy(plan, copy)
                people = plan.with_name(plan.name.replace(".xlsx", ".people.sqlite"))
                if people.is_file():  # names of people only Glance has, for the results
                    private_copy(people, runs / f"{run.id}.plan-people.sqlite")
                plan = copy
            run.plan = plan.name
        with self._lock:
            if self._closing:
                raise engine.UsageError("the server is shutting down; start the run again later")
            busy = [r for r in self._runs.values() if r.sha256 == sha256 and r.state in ACTIVE]
            if busy:
                raise engine.UsageError("this roster already has a run waiting or running")
            self._runs[run.id] = run
            self._queue.append(run)
            self._save(run)
            self._wake.notify_all()
        return run

    def _check_unfinished(self, run: Run) -> None:
        """An unfinished journal is finished in its own mode before another run may start."""
        earlier = [r for r in self.history() if r.sha256 == run.sha256 and not r.undoes]
        mode = earlier[0].options.mode if earlier else run.options.mode
        if mode != run.options.mode and engine.unfinished(
                self.workspace.journal_path(run.sha256)):
            then, now = (MODE_WORDS.get(m, m).split(" (")[0] for m in (mode, run.options.mode))
            raise engine.UsageError(
                f"this roster has an unfinished run ({then}): press Resume on it (or Start it "
                f"again with {then}) to finish it before starting a run with {now}")

    def resume(self, run_id: str, user: str) -> Run:
        """A new run that finishes ``run_id``; when one already does (a second press of
        Resume, or another admin's), that one."""
        old = self.get(run_id)
        follower = self._follower(old) if old is not None else None
        if follower is not None:
            return follower
        if old is None or not self.resumable(old):
            raise engine.UsageError("this run cannot be resumed (it finished, or a later run "
                                    "of the same roster took over)")
        try:
            plan = self.workspace.runs_dir(old.sha256) / old.plan if old.plan else None
            return self.submit(old.sha256, old.options, user, resumes=old.id, plan=plan,
                               undoes=old.undoes)
        except engine.UsageError:
            follower = self._follower(old)  # a press at the same moment got there first
            if follower is None:
                raise
            return follower

    def _follower(self, old: Run) -> Run | None:
        """The run that resumed ``old``, or the roster's run waiting or running."""
        with self._lock:
            later = [r for r in self._runs.values() if r.sha256 == old.sha256 and r.id > old.id
                     and (r.resumes == old.id or r.state in ACTIVE)]
        return min(later, key=lambda r: r.id) if later else None

    def undoable(self, run: Run) -> bool:
        """A finished run whose journal is still its roster's latest (no later run, not even
        an undo of it, replaced it) may be undone."""
        if run.state != "finished" or run.undoes:
            return False
        with self._lock:
            return not any(r.sha256 == run.sha256 and r.id > run.id for r in self._runs.values())

    def undone_by(self, run: Run) -> Run | None:
        """The latest undo of ``run``, if any."""
        with self._lock:
            undos = [r for r in self._runs.values() if r.undoes == run.id]
        return max(undos, key=lambda r: r.id) if undos else None

    def delete_roster(self, sha256: str) -> None:
        """Forget a roster's runs and delete its folder; refused while it has a run."""
        with self._lock:
            if any(r.sha256 == sha256 and r.state in ACTIVE for r in self._runs.values()):
                raise engine.UsageError("this roster has a run waiting or running: stop it "
                                        "first, then delete the roster")
            self._runs = {k: r for k, r in self._runs.items() if r.sha256 != sha256}
            self.workspace.delete(sha256)

    def stop_run(self, run_id: str) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return
            run.stop.set()
            if run in self._queue:
                self._queue.remove(run)
                run.state, run.finished = "stopped", now_text()
                run.message = "stopped before it started; nothing was sent"
                self._save(run)

    def active_run(self, sha256: str) -> Run | None:
        """The roster's run that is waiting or running, if any."""
        with self._lock:
            return next((r for r in self._runs.values()
                         if r.sha256 == sha256 and r.state in ACTIVE), None)

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def history(self) -> list[Run]:
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: r.id, reverse=True)

    def resumable(self, run: Run) -> bool:
        if run.state not in RESUMABLE:
            return False
        with self._lock:
            return not any(r.sha256 == run.sha256 and r.id > run.id for r in self._runs.values())

    def queue_position(self, run: Run) -> int:
        with self._lock:
            return list(self._queue).index(run) + 1 if run in self._queue else 0

    def snapshot(self, run: Run) -> dict[str, Any]:
        view = run.progress.view()
        view["notices"] = [self.workspace.shown(n) for n in view["notices"]]
        view.update(state=run.state, ending=run.ending, message=run.message,
                    position=self.queue_position(run), exit_code=run.exit_code)
        if run.state not in ACTIVE:  # the numbers of the whole roster, as its journal has them
            view["eta"], view["retrying"] = None, 0
            if run.counts:
                view["counts"] = run.counts
                open_rows = sum(n for k, n in run.counts.items() if k in OPEN_OUTCOMES)
                view["total"] = sum(run.counts.values())
                view["done"] = view["total"] - open_rows
                view["percent"] = int(100 * view["done"] / view["total"])
        view["shown"] = [[OUTCOME_WORDS.get(k, k), n] for k, n in view["counts"].items()]
        return view

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop every run as Ctrl-C stops ``run``: journals and workbooks are written."""
        self.begin_shutdown()
        self._thread.join(timeout)

    def begin_shutdown(self) -> None:
        """Ask every run to stop and take no new one; returns at once."""
        with self._lock:
            self._closing = True
            for run in self._runs.values():
                run.stop.set()
            while self._queue:
                run = self._queue.popleft()
                run.state, run.finished = "stopped", now_text()
                run.message = "the server stopped before this run started; nothing was sent"
                self._save(run)
            self._wake.notify_all()

    @property
    def closing(self) -> bool:
        return self._closing

    # -- the worker thread ------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                run = self._queue.popleft()
                run.state, run.started = "running", now_text()
                self._save(run)
            self._carry_out(run)

    def _carry_out(self, run: Run) -> None:
        if run.undoes:
            self._carry_out_undo(run)
            return
        folder = self.workspace.folder(run.sha256)
        roster = self.workspace.roster_path(run.sha256)
        try:
            spec = engine.run_spec(self.connection, roster, run.options,
                                   out=folder / f"results-{run.id}.xlsx",
                                   checkpoint=self.workspace.journal_path(run.sha256),
                                   sheet=self.workspace.roster_sheet(run.sha256),
                                   recipe=attached(self.workspace, run.sha256),
                                   plan=self.workspace.runs_dir(run.sha256) / run.plan
                                   if run.plan else None, roles=self._roles(run.sha256))
            result = engine.run(self.connection, spec, run.progress, run.stop)
        except engine.BulkProvisionError as exc:
            state, code, message = "error", exc.exit_code, said(exc)
            counts: dict[str, int] = {}
            self._notify(run, engine.notify_error, exc, roster, run.options.mode)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; the log has it
            log.exception("run %s failed", run.id)
            state, code, counts = "error", 2, {}
            message = f"unexpected error ({exc.__class__.__name__}); see the server's log"
        else:
            state, code = STATE_FOR_EXIT.get(result.exit_code, "error"), result.exit_code
            message, counts = result.message, {k: v for k, v in result.counts.items() if v}
            self._keep_people(run, result)
            self._notify(run, engine.notify_result, result, spec)
        with self._lock:
            run.state, run.exit_code, run.counts = state, code, counts
            run.message = self.workspace.shown(message, {roster: run.roster_name})
            run.finished = now_text()
            run.results = (folder / f"results-{run.id}.xlsx").is_file()
            self._save(run)

    def _carry_out_undo(self, run: Run) -> None:
        """The undo the admin confirmed: ``undo --yes`` with its own journal, resumable."""
        folder, runs = self.workspace.folder(run.sha256), self.workspace.runs_dir(run.sha256)
        info = read_json(runs / f"{run.undoes}.undo.json") or {}
        out = folder / f"results-{run.id}.xlsx"
        counts: dict[str, int] = {}
        try:
            result = engine.undo(self.connection, self.workspace.journal_path(run.sha256), out,
                                 run.options.protect, int(info.get("suspending") or 0),
                                 run.progress, run.stop)
        except engine.BulkProvisionError as exc:
            state, code, message = "error", exc.exit_code, said(exc)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; the log has it
            log.exception("undo %s failed", run.id)
            state, code = "error", 2
            message = f"unexpected error ({exc.__class__.__name__}); see the server's log"
        else:
            state, code = STATE_FOR_EXIT.get(result.exit_code, "error"), result.exit_code
            message = result.message
            counts = {str(k.value): v for k, v in result.counts.items() if v}
            known = {p.key: p for p in
                     engine.read_people(runs / f"{run.undoes}.undo-people.sqlite")}
            people = engine.run_people(result.rows, None, known)
            engine.write_people(runs / f"{run.id}.people.sqlite", people)
        with self._lock:
            run.state, run.exit_code, run.counts = state, code, counts
            run.message = self.workspace.shown(message)
            run.finished = now_text()
            run.results = out.is_file()
            self._save(run)

    def _keep_people(self, run: Run, result: engine.JobResult) -> None:
        """Every row of the run as a person (the run page's table), and its failed rows."""
        runs = self.workspace.runs_dir(run.sha256)
        plan_people = runs / (run.plan.replace(".plan.xlsx", ".plan-people.sqlite")
                              if run.plan else "-")
        known = {p.key: p for p in engine.read_people(plan_people)}
        invalid: dict[int, list[str]] = {}
        for problem in result.validation.problems:
            invalid.setdefault(problem.row, []).append(problem.message)
        people = engine.run_people(result.rows, result.roster, known,
                                   {row: "; ".join(m) for row, m in invalid.items()})
        engine.write_people(runs / f"{run.id}.people.sqlite", people)
        failed = result.failed_rows_path
        if failed is not None and failed.is_file():
            private_copy(failed, runs / f"{run.id}.failed{failed.suffix}")

    def _notify(self, run: Run, send: Any, *args: Any) -> None:
        """The config file's ``notify = [...]``, as ``run --notify`` does; a failure is a
        notice on the run and a line in the log, never a change of the run's ending."""
        try:
            failures = send(self.connection, *args)
        except engine.BulkProvisionError as exc:
            failures = [said(exc)]
        for line in failures:
            log.warning("run %s: %s", run.id, line)
            run.progress.notice(f"notification failed: {line}")

    def _roles(self, sha256: str) -> list[str] | None:
        """The roles Glance listed at upload (validation.json), as the plan was checked."""
        summary = read_json(self.workspace.folder(sha256) / "validation.json") or {}
        roles = summary.get("glance_roles") if isinstance(summary, dict) else None
        return [str(r) for r in roles] if isinstance(roles, list) else None

    def _journal_outcomes(self, sha256: str) -> dict[str, int]:
        """Every planned row's outcome as the journal has it: rows never sent are "not
        attempted", rows sent or in doubt "unfinished", so the counts add up to its rows."""
        try:
            found, _ = engine.journal_counts(self.workspace.journal_path(sha256))
        except KeyError:
            return {}
        return found

    def _save(self, run: Run) -> None:
        try:
            self.workspace.save_run(run.sha256, run.id, run.record())
        except (OSError, KeyError):
            log.exception("cannot save the record of run %s", run.id)
