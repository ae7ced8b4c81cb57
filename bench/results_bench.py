"""P5: write the results workbook for a 100,000-row roster (target: under 10 s here).

    .venv/bin/python bench/results_bench.py [--rows 100000] [--profile]

Prints the seconds taken by ``write_results``, the ratio to the 10 s target, the file size and
the process's peak RSS (resource.getrusage, includes building the test data).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bulk_provision import __version__
from bulk_provision.glance.models import AudioCodes
from bulk_provision.model import ActionKind, Outcome, RowResult
from bulk_provision.report.results import RunSummary, write_results
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import Problem

P5_TARGET_S = 10.0
COLUMNS = ["PartnerUserID", "UserAddress", "UserPW", "UserFirst", "UserLast", "UserEmail",
           "UserRole", "AudioProvider", "Department", "Cost centre"]


def make_roster(rows: int) -> Roster:
    data = {
        "PartnerUserID": [f"E{i:07d}" for i in range(rows)],
        "UserAddress": [f"user{i}.acme.glance.net" for i in range(rows)],
        "UserPW": [f"Secret-{i:07d}" for i in range(rows)],
        "UserFirst": [f"Firstname{i % 997}" for i in range(rows)],
        "UserLast": [f"Lastname{i % 991}" for i in range(rows)],
        "UserEmail": [f"user{i}@acme.example.com" for i in range(rows)],
        "UserRole": ["Agent" if i % 10 else "Supervisor" for i in range(rows)],
        "AudioProvider": ["1" if i % 2 else "666" for i in range(rows)],
        "Department": ["=SUM(A1)" if i % 1000 == 0 else f"Dept {i % 50}" for i in range(rows)],
        "Cost centre": [f"CC-{i % 300:04d}" for i in range(rows)],
    }
    frame = pd.DataFrame(data, index=pd.RangeIndex(2, rows + 2))
    headers = {c: c for c in COLUMNS} | {"UserPW": "Password", "UserFirst": "First Name"}
    return Roster(Path("bench-roster.xlsx"), frame, headers, "f" * 64)


def make_results(rows: int) -> tuple[dict[int, RowResult], list[Problem]]:
    results: dict[int, RowResult] = {}
    problems: list[Problem] = []
    for i in range(rows):
        row = i + 2
        if i % 100 == 7:
            problems.append(Problem(row, "UserEmail", "x@", "email", "UserEmail is not an email"))
            continue
        if i % 100 == 13:
            results[row] = RowResult(f"E{i:07d}", row, ActionKind.CREATE, Outcome.FAILED,
                                     "INVALID: UserAddress is taken", attempts=1)
            continue
        audio = AudioCodes("+1 555 0100", f"{i:06d}", f"{i + 1:06d}")
        results[row] = RowResult(f"E{i:07d}", row, ActionKind.CREATE, Outcome.CREATED, "",
                                 audio, 1)
    return results, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the top cProfile entries")
    args = parser.parse_args()
    roster = make_roster(args.rows)
    results, problems = make_results(args.rows)
    now = datetime.now(UTC)
    summary = RunSummary(__version__, str(roster.path), roster.sha256, "create",
                         "https://127.0.0.1:8443", now, now, 1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "results.xlsx")
        profiler = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        write_results(out, roster, results, problems, summary)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - t0
        size = out.stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"P5: write_results for {args.rows:,} rows ({len(problems):,} problems) took "
          f"{elapsed:.2f} s (ratio to the {P5_TARGET_S:.0f} s target: {elapsed / P5_TARGET_S:.2f});"
          f" file {size / 1e6:.1f} MB; peak RSS {peak_mb:.0f} MB")
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
