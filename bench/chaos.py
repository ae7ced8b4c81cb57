"""R1, R2: kill -9 a 2,000-row run at 20 random moments under injected faults; prove exactly once.

The simulator runs in its own process with 10% HTTP 503, 5% of the changes committed and then
the connection dropped (the ambiguous outcome), HTTP 429 above 50 requests/s and 5-20 ms of
latency. ``python -m bulk_provision run`` is started as a subprocess and killed with SIGKILL at
random moments (after a random number of new requests reach the simulator, or after a random
delay that may land in start-up), re-run each time, then re-run until it exits 0.

Then, from the simulator's request log and state, the checkpoint and the results workbook:
every roster user created exactly once, none missing, none extra, no NewUser committed twice,
every workbook row ``created`` with the simulator's audio codes (or a message saying they could
not be recovered), and the checkpoint all done. One verdict line; exit 1 on FAIL.

    python bench/chaos.py [--seed 7] [--rows 2000] [--kills 20] [--keep DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rosters import roster_rows, write_csv  # noqa: E402
from simproc import SimulatorProcess  # noqa: E402

from bulk_provision.journal.checkpoint import Checkpoint  # noqa: E402

FAULTS = {"fail_rate": 0.10, "fail_status": 503, "drop_rate": 0.05, "rate_limit": 50.0,
          "latency_ms": 5.0, "jitter_ms": 15.0}
# Quick backoff and a short pause keep the run inside the time budget; a high retry bound means
# no row should ever give up (exit 1) on transient faults alone.
TUNING = """\
backoff_base = 0.2
backoff_max = 4.0
pause_seconds = 2.0
max_consecutive_failures = 25
"""
MAX_RETRIES = 15
PREFIX = "C"
AUDIO = ("dialIn", "hostCode", "guestCode")
NOT_RECOVERED = re.compile(r"could not be recovered", re.IGNORECASE)
BUDGET_S = 270.0  # the runs; start-up and verification take seconds more: under 5 min
RUN_TIMEOUT_S = 150.0  # one uninterrupted run
FINISH_ATTEMPTS = 10
POLL_S = 0.02


@dataclass
class Workspace:
    root: Path

    @property
    def roster(self) -> Path:
        return self.root / "roster.csv"

    @property
    def checkpoint(self) -> Path:
        return self.root / "roster.checkpoint.sqlite"

    @property
    def results(self) -> Path:
        return self.root / "results.xlsx"

    @property
    def config(self) -> Path:
        return self.root / "chaos.toml"

    @property
    def calls(self) -> Path:
        """The client's ``--log-file``, appended to by every run."""
        return self.root / "calls.jsonl"

    @classmethod
    def create(cls, root: Path, rows: int) -> Workspace:
        ws = cls(root)
        ws.config.write_text(TUNING, encoding="utf-8")
        write_csv(ws.roster, rows, prefix=PREFIX)
        return ws

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bulk_provision", "run", str(self.roster),
                "--workers", "8", "--rate", "0", "--no-progress", "--quiet",
                "--max-retries", str(MAX_RETRIES), "--config", str(self.config),
                "--checkpoint", str(self.checkpoint), "--out", str(self.results),
                "--log-file", str(self.calls)]

    def calls_for(self, key: str) -> list[str]:
        """The client's log lines about ``key`` (a line cut short by a kill is skipped)."""
        found: list[str] = []
        if not self.calls.is_file():
            return found
        for line in self.calls.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("partner_user_id") == key:
                found.append(" ".join(str(v) for v in event.values()))
        return found


@dataclass
class Runs:
    """Every start of the client: how many, how many killed, how each ended."""

    started: int = 0
    kills: int = 0
    exits: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    crash: str = ""  # the first traceback seen
    last_exit: int | None = None


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self._end = self.started + seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def start(ws: Workspace, sim: SimulatorProcess, runs: Runs) -> subprocess.Popen[str]:
    runs.started += 1
    return subprocess.Popen(ws.command(), env={**os.environ, **sim.env()},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                encoding="utf-8",
                            start_new_session=True)


def finish(proc: subprocess.Popen[str], runs: Runs, timeout: float) -> int:
    """Wait for ``proc`` (killing it if it overruns); note tracebacks and unexpected exits."""
    try:
        _, err = proc.communicate(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        runs.problems.append(f"run {runs.started} hung: no exit within {timeout:.0f} s")
    code = proc.returncode
    runs.exits[code] += 1
    last = err.strip().splitlines()[-1:] or [""]
    if "Traceback" in err:
        runs.problems.append(f"run {runs.started} (exit {code}) crashed: {last[0]}")
        runs.crash = runs.crash or err
    elif code not in (0, 1, 4, -signal.SIGKILL):
        runs.problems.append(f"run {runs.started} exited {code}: {last[0]}")
    runs.last_exit = code
    return code


def reached(sim: SimulatorProcess, proc: subprocess.Popen[str], target: int,
            until: float) -> bool:
    """Wait until the log holds ``target`` requests; False if ``proc`` ended or time ran out."""
    while time.monotonic() < until and proc.poll() is None:
        if len(sim.request_log()) >= target:
            return True
        time.sleep(POLL_S)
    return proc.poll() is None and len(sim.request_log()) >= target


def kill_plan(rng: random.Random, kills: int, rows: int) -> list[tuple[str, float]]:
    """Random moments spread over the whole run, in order.

    Most are positions in the simulator's request log (the run is killed once the log reaches
    it, at least one new request after start); about one in four is a delay after start, which
    may land in start-up (roster read, validation, checkpoint open) before any request.
    """
    delays = sum(1 for _ in range(kills) if rng.random() < 0.25)
    positions = sorted(rng.uniform(0, 1.1 * rows) for _ in range(kills - delays))
    moments = [("log", p) for p in positions]
    for _ in range(delays):
        moments.insert(rng.randint(0, len(moments)), ("delay", rng.uniform(0.2, 3.0)))
    return moments


def kill_once(ws: Workspace, sim: SimulatorProcess, runs: Runs, moment: tuple[str, float],
              deadline: Deadline) -> bool:
    """Start a run and SIGKILL it at ``moment``; False if it ended before that."""
    kind, amount = moment
    before = len(sim.request_log())
    proc = start(ws, sim, runs)
    until = time.monotonic() + min(RUN_TIMEOUT_S, deadline.left())
    if kind == "delay":
        try:
            proc.wait(timeout=amount)
        except subprocess.TimeoutExpired:
            pass
        alive = proc.poll() is None
    else:
        alive = reached(sim, proc, max(before + 1, int(amount)), until)
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    killed = finish(proc, runs, max(1.0, deadline.left())) == -signal.SIGKILL
    runs.kills += killed
    runs.trace.append(f"run {runs.started}: {kind} {amount:.1f}, log {before} -> "
                      f"{len(sim.request_log())}, exit {runs.last_exit} at {time.time():.3f}")
    return killed


def kill_all(ws: Workspace, sim: SimulatorProcess, runs: Runs,
             moments: list[tuple[str, float]], deadline: Deadline) -> None:
    """One kill per moment; a run that stopped on its own (exit 4) is re-run for that moment."""
    for moment in moments:
        for _ in range(3):
            if runs.problems or deadline.left() <= 0:
                return
            if kill_once(ws, sim, runs, moment, deadline):
                break
            if runs.last_exit == 0:
                runs.problems.append(f"the run finished after {runs.kills} kills")
                return


def run_to_completion(ws: Workspace, sim: SimulatorProcess, runs: Runs,
                      deadline: Deadline) -> None:
    """Re-run the same command until it exits 0 (bounded); exit 1 means rows gave up: stop."""
    for _ in range(FINISH_ATTEMPTS):
        if runs.problems:  # a crash or hang: nothing more to learn by running again
            return
        if deadline.left() <= 0:
            runs.problems.append("time budget exhausted before a run exited 0")
            return
        proc = start(ws, sim, runs)
        code = finish(proc, runs, min(RUN_TIMEOUT_S, deadline.left()))
        if code == 0:
            return
        if code == 1 and gave_up(ws, runs):
            return
    runs.problems.append(f"no run exited 0 in {FINISH_ATTEMPTS} attempts")


def gave_up(ws: Workspace, runs: Runs) -> bool:
    """After exit 1: True (and the reasons noted) if rows failed for good.

    Only rows journaled ``failed`` are final; rows still ``pending`` (out of retries) or
    ``sending`` (outcome unknown) are finished by re-running the same command, as the tool says.
    """
    with Checkpoint.read_only(ws.checkpoint) as cp:
        failed = cp.failed(limit=5)
        states = cp.state_counts()
    if not failed:
        runs.trace.append(f"run {runs.started}: exit 1 with {states['pending']} rows pending, "
                          f"{states['sending']} in doubt; re-run")
        return False
    runs.problems.append("a run exited 1: rows gave up: " + "; ".join(
        f"row {r.row} {r.key}: {r.message}" for r in failed))
    return True


# -- verification ------------------------------------------------------------------------------


@dataclass
class Findings:
    rows: int = 0
    exactly_once: int = 0
    missing: int = 0
    extra: int = 0
    duplicates: int = 0
    wrong_state: int = 0
    workbook_mismatches: int = 0
    audio_not_recovered: int = 0
    refused_resends: int = 0
    lookups: int = 0
    checkpoint_done: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)  # keys whose history is worth showing

    def problem(self, text: str) -> None:
        if len(self.details) < 20:
            self.details.append(text)


def check_simulator(sim: SimulatorProcess, roster: dict[str, list[str]], f: Findings) -> None:
    created = sim.created_counts()
    users = sim.users()
    log = sim.request_log()
    f.rows = len(roster)
    f.exactly_once = sum(1 for key in roster if created.get(key) == 1)
    f.missing = sum(1 for key in roster if key not in users)
    f.extra = sum(1 for key in users if key not in roster)
    committed = Counter(puid for _, op, puid, done, _ in log if op == "NewUser" and done)
    f.duplicates = sum(1 for key in set(committed) | set(created)
                       if committed.get(key, 0) > 1 or created.get(key, 0) > 1)
    for key, row in roster.items():
        if key in users and (users[key][0].lower() != row[1].lower() or users[key][2]):
            f.wrong_state += 1
            f.problem(f"{key}: simulator holds {users[key][0]!r} (suspended {users[key][2]})")
    f.faults = Counter(result for *_, result in log)
    f.lookups = sum(1 for _, op, *_ in log if op == "ShowUsers")
    f.refused_resends = sum(1 for _, op, _, _, result in log
                            if op == "NewUser" and result == "DUPLICATE_ID")
    f.suspects += [k for k in roster if created.get(k, 0) != 1]
    f.suspects += [p for _, op, p, _, res in log if op == "NewUser" and res == "DUPLICATE_ID"]


def read_results(path: Path) -> list[dict[str, str]]:
    workbook = load_workbook(path, read_only=True)
    try:
        rows = workbook["Results"].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        return [{h: "" if v is None else str(v) for h, v in zip(header, row, strict=False)}
                for row in rows]
    finally:
        workbook.close()


def check_workbook(sim: SimulatorProcess, ws: Workspace, roster: dict[str, list[str]],
                   f: Findings) -> None:
    users = sim.users()
    rows = read_results(ws.results) if ws.results.is_file() else []
    keys = [r.get("PartnerUserID", "") for r in rows]
    if keys != list(roster):
        f.workbook_mismatches += 1
        f.problem(f"workbook lists {len(keys)} rows, not the roster's {len(roster)} in order")
    for row in rows:
        key = row.get("PartnerUserID", "")
        audio = users[key][1] if key in users else None
        if not audio_matches(row, audio, f):
            f.workbook_mismatches += 1
            f.suspects.append(key)
            f.problem(f"{key}: workbook {row.get('Outcome')!r} {row.get('Message')!r} "
                      f"{[row.get(a) for a in AUDIO]} vs simulator audio {audio}")


def audio_matches(row: dict[str, str], audio: dict[str, str] | None, f: Findings) -> bool:
    """Outcome ``created``; codes equal to the simulator's, or absent with a message saying so."""
    if row.get("Outcome") != "created":
        return False
    shown = [row.get(a, "") for a in AUDIO]
    if any(shown):
        return audio is not None and shown == [audio.get(a, "") for a in AUDIO]
    if audio is None:
        return True
    if NOT_RECOVERED.search(row.get("Message", "")):
        f.audio_not_recovered += 1
        return True
    return False


def check_checkpoint(ws: Workspace, f: Findings) -> None:
    """Rows the checkpoint records as ``done`` with outcome ``created``; any other state noted."""
    if not ws.checkpoint.is_file():
        f.problem("no checkpoint")
        return
    with Checkpoint.read_only(ws.checkpoint) as cp:
        states = cp.state_counts()
        outcomes = {o.value: n for o, n in cp.outcome_counts().items() if n}
    f.checkpoint_done = min(states["done"], outcomes.get("created", 0))
    if f.checkpoint_done != f.rows:
        f.problem(f"checkpoint not all done: states {states}, outcomes {outcomes}")


def histories(sim: SimulatorProcess, ws: Workspace, f: Findings) -> list[str]:
    """Both sides' story of the first few suspect keys: simulator log, then client log."""
    log = sim.request_log()
    lines = []
    for key in list(dict.fromkeys(f.suspects))[:5]:
        lines.append(f"{key} at the simulator: " + "; ".join(
            f"{t:.3f} {op} {res}{' committed' if done else ''}"
            for t, op, p, done, res in log if p == key))
        lines.append(f"{key} at the client: " + "; ".join(ws.calls_for(key)))
    return lines


# -- the verdict -------------------------------------------------------------------------------


def passed(f: Findings, runs: Runs, kills: int) -> bool:
    return (runs.last_exit == 0 and not runs.problems and runs.kills == kills
            and f.exactly_once == f.rows and f.missing == f.extra == f.duplicates == 0
            and f.wrong_state == f.workbook_mismatches == f.refused_resends == 0
            and f.checkpoint_done == f.rows)


def verdict(f: Findings, runs: Runs, ok: bool, seconds: float) -> str:
    exits = ", ".join(f"{code}: {n}" for code, n in sorted(runs.exits.items()))
    return (f"R1/R2 chaos: {'PASS' if ok else 'FAIL'} {f.rows} rows, {runs.kills} kills, "
            f"{runs.started} runs, created exactly once {f.exactly_once}, missing {f.missing}, "
            f"extra {f.extra}, duplicates {f.duplicates}, wrong state {f.wrong_state}, "
            f"refused re-sends {f.refused_resends}, workbook mismatches "
            f"{f.workbook_mismatches}, checkpoint done {f.checkpoint_done}, "
            f"audio not recovered {f.audio_not_recovered}, "
            f"503s {f.faults['HTTP503']}, drops {f.faults['DROPPED']}, "
            f"429s {f.faults['HTTP429']}, ShowUsers look-ups {f.lookups}, "
            f"exits {{{exits}}}, {seconds:.1f} s")


def chaos(seed: int, rows: int, kills: int, keep: Path | None, verbose: bool) -> bool:
    deadline = Deadline(BUDGET_S)
    rng = random.Random(seed)
    runs, findings = Runs(), Findings()
    roster = {r[0]: r for r in roster_rows(rows, prefix=PREFIX)}
    with workspace_dir(keep) as root, SimulatorProcess(seed=seed, **FAULTS) as sim:
        ws = Workspace.create(root, rows)
        kill_all(ws, sim, runs, kill_plan(rng, kills, rows), deadline)
        run_to_completion(ws, sim, runs, deadline)
        check_simulator(sim, roster, findings)
        check_workbook(sim, ws, roster, findings)
        check_checkpoint(ws, findings)
        stories = histories(sim, ws, findings)
    ok = passed(findings, runs, kills)
    print(verdict(findings, runs, ok, deadline.elapsed()))
    for text in (runs.trace if verbose else []) + runs.problems + findings.details + stories:
        print(f"  {text}", file=sys.stderr)
    if runs.crash:
        print(f"first traceback:\n{runs.crash}", file=sys.stderr)
    return ok


@contextmanager
def workspace_dir(keep: Path | None) -> Iterator[Path]:
    """``keep`` (created, must be empty) to look at afterwards, else a throwaway directory."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=True)
    if any(keep.iterdir()):
        raise SystemExit(f"--keep {keep}: the directory is not empty")
    yield keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7, help="seeds the kills and the faults")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR and keep it (roster, checkpoint, results, call log)")
    parser.add_argument("--verbose", action="store_true", help="trace every run on stderr")
    args = parser.parse_args()
    sys.exit(0 if chaos(args.seed, args.rows, args.kills, args.keep, args.verbose) else 1)


if __name__ == "__main__":
    main()
