"""P2: load + validate a generated 100,000-row roster, as CSV and as xlsx.

    .venv/bin/python bench/validate_bench.py [--rows 100000] [--repeat 3]

Writes the roster to a temporary directory (CSV with the csv module, xlsx with xlsxwriter in
constant-memory mode), then times, all in one run:

* ``read_roster`` and ``validate_roster`` on the CSV (target: load + validate under 1 s);
* the same on the xlsx (python-calamine);
* ``pandas.read_excel(path, engine="openpyxl", dtype=str)`` on the same xlsx: the baseline the
  calamine path must beat at least 5x.

Our timings are the best of ``--repeat`` runs; the openpyxl baseline runs once (it is slow).

    .venv/bin/python bench/validate_bench.py --shared-id [--rows 100000]

times instead the worst case for uniqueness (DESIGN.md section 11): every row shares one
PartnerUserID (then, second, one PartnerUserID and one UserAddress), so every row is invalid and
every message names other rows. Reports load and validate seconds and the process's peak RSS
against the target: validate under 5 s and the whole process under 500 MB. Run it on its own
(the flag skips the rest) so the peak RSS is this case's.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from bulk_provision.columns import CANONICAL_COLUMNS
from bulk_provision.roster.read import read_roster

CSV_TARGET_S = 1.0
SHARED_TARGET_S = 5.0
SHARED_TARGET_MB = 500.0
XLSX_TARGET_RATIO = 5.0
HEADER = [*CANONICAL_COLUMNS[:-1], "Department"]


def rows(n: int) -> list[list[str]]:
    return [
        [
            f"{i:07d}",
            f"user{i}.bench.demo.glance.net",
            f"Welcome-2026!{i:07d}",
            "Zoë" if i % 7 == 0 else "José",
            f"Núñez{i}",
            f"user{i}@example.com",
            ("Agent", "Supervisor", "")[i % 3],
            ("1", "666", "")[i % 3],
            f"Dept {i % 40}",
        ]
        for i in range(n)
    ]


def write_files(folder: Path, n: int) -> tuple[Path, Path]:
    data = rows(n)
    csv_path = folder / "roster.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(data)
    xlsx_path = folder / "roster.xlsx"
    workbook = xlsxwriter.Workbook(str(xlsx_path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Roster")
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(data, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    workbook.close()
    return csv_path, xlsx_path


def best_of(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def validator() -> Callable[[Any], Any] | None:
    """``validate_roster`` when another module provides it; None while it is a stub."""
    try:
        from bulk_provision.roster.validation import validate_roster
    except ImportError:
        return None
    return validate_roster


def time_file(path: Path, repeat: int, validate: Callable[[Any], Any] | None) -> dict[str, float]:
    load, roster = best_of(repeat, lambda: read_roster(path))
    times = {"load": load}
    if validate is not None:
        try:
            times["validate"], result = best_of(repeat, lambda: validate(roster))
        except NotImplementedError:
            return times
        times["problems"] = float(len(result.problems))
    return times


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    import resource  # POSIX only: imported here, never at start

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def write_shared(folder: Path, n: int, *, address_too: bool) -> Path:
    path = folder / f"shared-{n}-{int(address_too)}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["PartnerUserID", "UserAddress", "UserFirst"])
        for i in range(n):
            address = "same.bench.demo.glance.net" if address_too else f"u{i}.bench.glance.net"
            writer.writerow(["E-0001", address, f"Name {i}"])
    return path


def shared_id(n: int) -> int:
    """Time the worst case for uniqueness; print seconds and peak RSS against the targets."""
    from bulk_provision.roster.validation import validate_roster

    met = True
    with tempfile.TemporaryDirectory() as folder:
        for address_too in (False, True):
            path = write_shared(Path(folder), n, address_too=address_too)
            started = time.perf_counter()
            roster = read_roster(path)
            loaded = time.perf_counter()
            result = validate_roster(roster)
            validated = time.perf_counter() - loaded
            peak = peak_rss_mb()
            what = "PartnerUserID and UserAddress" if address_too else "PartnerUserID"
            ok = validated < SHARED_TARGET_S and peak < SHARED_TARGET_MB
            met = met and ok
            print(
                f"{n:,} rows sharing one {what}: load {loaded - started:.2f} s, validate "
                f"{validated:.2f} s ({len(result.problems):,} problems), peak RSS {peak:.0f} MB "
                f"vs target {SHARED_TARGET_S:.0f} s / {SHARED_TARGET_MB:.0f} MB "
                f"({'met' if ok else 'MISSED'})"
            )
            example = next(p for p in result.problems if p.row == 3)
            print(f"  e.g. row 3: {example.message}")
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shared-id", action="store_true",
                        help="time only rows that all share one PartnerUserID (section 11)")
    options = parser.parse_args(argv)
    if options.shared_id:
        return shared_id(options.rows)
    validate = validator()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        csv_path, xlsx_path = write_files(Path(folder), options.rows)
        print(
            f"generated {options.rows:,} rows in {time.perf_counter() - started:.1f} s "
            f"(csv {csv_path.stat().st_size / 2**20:.1f} MB, "
            f"xlsx {xlsx_path.stat().st_size / 2**20:.1f} MB)"
        )
        csv_times = time_file(csv_path, options.repeat, validate)
        xlsx_times = time_file(xlsx_path, options.repeat, validate)
        started = time.perf_counter()
        baseline = pd.read_excel(xlsx_path, engine="openpyxl", dtype=str)
        openpyxl_s = time.perf_counter() - started
    assert len(baseline) == options.rows
    report(csv_times, xlsx_times, openpyxl_s, validate is not None and "validate" in csv_times)
    return 0


def report(
    csv_times: dict[str, float], xlsx_times: dict[str, float], openpyxl_s: float, validated: bool
) -> None:
    if not validated:
        print("validate_roster is not available yet: timing loading alone")
    for name, times in (("csv", csv_times), ("xlsx", xlsx_times)):
        total = times["load"] + times.get("validate", 0.0)
        detail = f"load {times['load']:.3f} s"
        if "validate" in times:
            detail += f" + validate {times['validate']:.3f} s ({times['problems']:.0f} problems)"
        print(f"{name:5} {detail} = {total:.3f} s")
    csv_total = csv_times["load"] + csv_times.get("validate", 0.0)
    xlsx_total = xlsx_times["load"] + xlsx_times.get("validate", 0.0)
    print(f"openpyxl pandas.read_excel(dtype=str): {openpyxl_s:.3f} s")
    print(
        f"P2 csv: {csv_total:.3f} s vs target {CSV_TARGET_S:.1f} s "
        f"({'met' if csv_total < CSV_TARGET_S else 'MISSED'})"
    )
    load_ratio = openpyxl_s / xlsx_times["load"]
    total_ratio = openpyxl_s / xlsx_total
    print(
        f"P2 xlsx: calamine load {load_ratio:.1f}x faster than openpyxl; "
        f"load+validate {total_ratio:.1f}x (target {XLSX_TARGET_RATIO:.0f}x, "
        f"{'met' if total_ratio >= XLSX_TARGET_RATIO else 'MISSED'})"
    )


if __name__ == "__main__":
    sys.exit(main())
