"""P3, P4: a 100,000-row roster: resume when 99% done, and peak memory of a whole run.

* P3: a checkpoint with 99% of the rows done; ``bulk-provision run`` is started on it and the
  time from process start to the first new NewUser reaching the simulator is measured
  (target: under 3 s).
* P4: a complete 100,000-row run (simulator at zero latency, 16 workers, ``--rate 0``); peak RSS
  of the ``bulk-provision`` process (target: under 400 MB).

    python bench/scale.py [--rows 100000] [--skip-full-run]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rosters import write_csv  # noqa: E402
from simproc import SimulatorProcess  # noqa: E402

from bulk_provision.journal.checkpoint import Checkpoint  # noqa: E402
from bulk_provision.model import Outcome, RowResult  # noqa: E402
from bulk_provision.plan.actions import plan_create  # noqa: E402
from bulk_provision.plan.resume import row_hashes  # noqa: E402
from bulk_provision.roster.read import read_roster  # noqa: E402


def command(roster: Path, checkpoint: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "bulk_provision", "run", str(roster), "--workers", "16",
            "--rate", "0", "--no-progress", "--quiet", "--checkpoint", str(checkpoint),
            "--out", str(out)]


def prepare_99_percent(roster: Path, checkpoint: Path) -> int:
    loaded = read_roster(roster)
    actions = plan_create(loaded.frame, list(loaded.frame.index))
    done = len(actions) * 99 // 100
    with Checkpoint.open(checkpoint, roster_sha256=loaded.sha256, roster_path=str(roster),
                         mode="create") as journal:
        journal.record_plan(actions, row_hashes=row_hashes(loaded, actions))  # as a run does
        for action in actions[:done]:
            journal.send(action.key)
            journal.answer(RowResult(action.key, action.row, action.kind, Outcome.CREATED,
                                     attempts=1))
    return len(actions) - done


def measure_resume(roster: Path, workdir: Path) -> tuple[float, float, int]:
    checkpoint = workdir / "resume.checkpoint.sqlite"
    remaining = prepare_99_percent(roster, checkpoint)
    with SimulatorProcess() as sim:
        started_wall = time.time()
        started = time.perf_counter()
        done = subprocess.run(command(roster, checkpoint, workdir / "resume.xlsx"),
                              env={**os.environ, **sim.env()}, capture_output=True, text=True,
                                  encoding="utf-8",
                              timeout=1800)
        total = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"resume run exited {done.returncode}: {done.stderr[-2000:]}")
        first = min(t for t, op, *_ in sim.request_log() if op == "NewUser")
    return first - started_wall, total, remaining


def measure_full_run(roster: Path, workdir: Path) -> tuple[float, float]:
    with SimulatorProcess() as sim:
        started = time.perf_counter()
        proc = subprocess.Popen(command(roster, workdir / "full.checkpoint.sqlite",
                                        workdir / "full.xlsx"),
                                env={**os.environ, **sim.env()}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        # wait4 gives the resource usage of exactly this child, not the simulator's
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"full run exited {proc.returncode}: {err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-full-run", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        roster = write_csv(workdir / "roster.csv", args.rows, prefix="S")
        first, total, remaining = measure_resume(roster, workdir)
        print(f"P3 resume: {args.rows} rows, 99% done ({remaining} left): first new request "
              f"{first:.2f} s after start (target < 3 s, ratio {first / 3:.2f}); "
              f"whole resume {total:.1f} s")
        if not args.skip_full_run:
            elapsed, peak_mb = measure_full_run(roster, workdir)
            print(f"P4 memory: {args.rows}-row run took {elapsed:.1f} s "
                  f"({args.rows / elapsed:.0f} rows/s); peak RSS {peak_mb:.0f} MB "
                  f"(target < 400 MB, ratio {peak_mb / 400:.2f})")


if __name__ == "__main__":
    main()
