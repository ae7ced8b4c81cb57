"""Checkpoint speed: transition throughput from 32 threads, and the P3 part owed to the journal.

P3 (DESIGN.md section 8) is "resume a 100,000-row run that is 99% done: first new request within
3 s of start". This measures the checkpoint's share in a fresh process: ``Checkpoint.open`` +
``todo()`` on such a file, and also the interpreter start + import.

    .venv/bin/python bench/checkpoint_bench.py [--rows 100000] [--threads 32]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bulk_provision.glance.models import AudioCodes
from bulk_provision.journal.checkpoint import Checkpoint, row_hash
from bulk_provision.model import Action, ActionKind, Outcome, RowResult

SHA = "c" * 64
P3_TARGET_S = 3.0

RESUME = """
import sys, time
from pathlib import Path
from bulk_provision.journal.checkpoint import Checkpoint
t0 = time.perf_counter()
cp = Checkpoint.open(Path(sys.argv[1]), roster_sha256="c" * 64, roster_path="r", mode="create")
todo = cp.todo()
t1 = time.perf_counter()
ready = time.time()
plan, results = cp.load_plan(), cp.results()
t2 = time.perf_counter()
cp.close()
print(f"{t1 - t0:.4f} {len(todo)} {t2 - t1:.4f} {ready:.6f}")
"""


def action(i: int) -> Action:
    fields = {"UserAddress": f"user{i}.demo.glance.net", "UserFirst": "Ann", "UserLast": "Lee",
              "UserEmail": f"user{i}@example.com", "UserRole": "Agent", "AudioProvider": "1"}
    return Action(f"user{i:06d}", i + 2, ActionKind.CREATE, fields, send_password=True)


def result(a: Action) -> RowResult:
    return RowResult(a.key, a.row, a.kind, Outcome.CREATED, "created",
                     AudioCodes("+1 555 0100", "123456", "654321"), 1)


def bench_marks(path: Path, rows: int, threads: int) -> None:
    actions = [action(i) for i in range(rows)]
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create") as cp:
        cp.record_plan(actions)
        chunks = [actions[i::threads] for i in range(threads)]

        def work(chunk: list[Action]) -> None:
            for a in chunk:
                cp.send(a.key)
                cp.answer(result(a))

        workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
    marks = 2 * rows
    print(f"transition: {marks} committed marks from {threads} threads in {elapsed:.2f} s "
          f"= {marks / elapsed:,.0f}/s (ratio to 1,000/s: {marks / elapsed / 1000:.1f} x)")


def build_resume_file(path: Path, rows: int) -> None:
    actions = [action(i) for i in range(rows)]
    done = rows * 99 // 100
    t0 = time.perf_counter()
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create") as cp:
        cp.record_plan(actions, row_hashes={a.key: row_hash(a.fields) for a in actions})
        # Finishing 99,000 rows one mark at a time is the transition benchmark above; here the
        # journal is brought to the same state through the same calls, sequentially.
        for a in actions[:done]:
            cp.send(a.key)
            cp.answer(result(a))
        cp.send(actions[done].key)  # one in doubt, as after a kill -9
    print(f"built a {rows:,}-row checkpoint, {done:,} done, in {time.perf_counter() - t0:.1f} s "
          f"({path.stat().st_size / 1e6:.1f} MB)")


def bench_resume(path: Path) -> None:
    started = time.time()
    out = subprocess.run([sys.executable, "-c", RESUME, str(path)], capture_output=True,
                         text=True, encoding="utf-8", check=True).stdout.split()
    inside, todo, whole = float(out[0]), int(out[1]), float(out[2])
    total = float(out[3]) - started  # process start to "the rows to send are known"
    print(f"P3 share: open + todo() = {inside:.3f} s for {todo:,} rows to do; "
          f"with interpreter start and imports {total:.3f} s "
          f"(ratio to the 3 s target: {total / P3_TARGET_S:.3f}); "
          f"load_plan() + results() of all rows: {whole:.3f} s more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_marks(Path(tmp, "marks.sqlite"), 20_000, args.threads)
        resume = Path(tmp, "resume.sqlite")
        build_resume_file(resume, args.rows)
        bench_resume(resume)


if __name__ == "__main__":
    main()
