"""Where a run's CPU goes: ``bulk-provision run`` sampled by py-spy, summarised per stage.

The P1 workload (simulator at 50 ms in its own process, 16 workers, ``--rate 0``) on ``--rows``
rows, sampled with ``py-spy record --gil`` (only the thread holding the GIL: Python's own CPU,
not threads waiting on a socket). Prints the share of samples per stage of a row (the HTTP
exchange, the journal, parsing the answer, ...) and per phase of the run (start-up imports,
reading and planning, the results workbook), then the heaviest functions, inclusive.

py-spy is not a dependency: ``.venv/bin/pip install py-spy`` first. It needs ptrace rights
(root, or ``kernel.yama.ptrace_scope=0``).

    .venv/bin/python bench/profile_run.py [--rows 6000] [--rate 250] [--raw FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rosters import write_csv  # noqa: E402
from simproc import SimulatorProcess  # noqa: E402

# stage -> a function whose frames (inclusive) belong to it; the first that matches wins
STAGES = [
    ("HTTP exchange (requests/urllib3/ssl)", "GlanceClient._exchange"),
    ("parsing the answer", "parse_new_user"),
    ("client bookkeeping (fields, call record)", "GlanceClient._call"),
    ("journal: sending mark", "Checkpoint.send"),
    ("journal: answers (group commit)", "GroupCommit"),
    ("journal: answers queued", "Checkpoint.answer_soon"),
    ("rate limit, progress, row logic", "Engine._worker"),
    ("reading and validating the roster", "load_and_validate"),
    ("planning and recording the plan", "_plan"),
    ("the results workbook", "_write"),
    ("start-up: imports", "_find_and_load"),
    ("other main-thread work", "run_job"),
]
NO_FRAME = "no Python frame (C code; py-spy caught no stack)"


def _frame(text: str) -> str:
    return re.sub(r" \(.*\)$", "", text)


def summarise(raw: Path, top: int) -> None:
    stages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        samples = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        total += samples
        for name in set(frames):
            inclusive[name] += samples
        joined = ";".join(frames)
        stage = next((label for label, marker in STAGES if marker in joined),
                     "other" if joined.strip(";") else NO_FRAME)
        stages[stage] += samples
    print(f"{total} samples of the thread holding the GIL")
    for label in [*(label for label, _ in STAGES), "other", NO_FRAME]:
        if stages[label]:
            print(f"  {100 * stages[label] / total:5.1f}%  {label}")
    print(f"heaviest {top} functions (inclusive):")
    for name, samples in inclusive.most_common(top):
        print(f"  {100 * samples / total:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw (collapsed) stacks here")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        raw = args.raw or workdir / "stacks.txt"
        roster = write_csv(workdir / "roster.csv", args.rows, prefix="F")
        with SimulatorProcess(latency_ms=50.0) as sim:
            command = [spy, "record", "--gil", "--nonblocking", "-r", str(args.rate), "-f", "raw",
                       "-o", str(raw), "--", sys.executable, "-m", "bulk_provision", "run",
                       str(roster), "--workers", "16", "--rate", "0", "--no-progress",
                       "--quiet", "--fresh", "--out", str(workdir / "results.xlsx"),
                       "--checkpoint", str(workdir / "bench.checkpoint.sqlite")]
            done = subprocess.run(command, env={**os.environ, **sim.env()}, capture_output=True,
                                  text=True, encoding="utf-8", timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"py-spy / bulk-provision exited {done.returncode}:\n"
                             f"{done.stderr[-2000:]}")
        print(f"bulk-provision run, {args.rows} rows, sampled at {args.rate} Hz")
        summarise(raw, args.top)


if __name__ == "__main__":
    main()
