"""P11: what a recipe adds to load + validate of a 100,000-row HR export (DESIGN.md section 12).

    .venv/bin/python bench/recipe_bench.py [--rows 100000] [--rounds 5]

Writes to a temporary directory P2's CSV (``validate_bench.rows``: already in Glance's shape)
and the same people as an HR export: headers "Employee ID", "Preferred First Name", "Last Name",
"Work Email", "Department", "Status", "Start Date", no UserAddress (the recipe computes it from
names with accented letters, so ``ascii`` and ``slug`` do real work), a Department the recipe
looks UserRole up from, and a Status (about 2% "Terminated") the recipe turns into leavers. Then,
interleaved over ``--rounds`` rounds, times:

* plain: ``read_roster`` + ``validate_roster`` on P2's file;
* recipe: ``read_with_recipe`` + ``validate_roster`` on the export;
* the recipe step alone: ``apply_recipe`` on the export read with the recipe's column map.

Both rosters must come out fully valid, so the two sides do equal work. Prints the medians and the
ratio recipe / plain against the target (at most 1.20).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate_bench import HEADER, rows  # noqa: E402

from bulk_provision.recipe.file import Recipe, parse_recipe  # noqa: E402
from bulk_provision.roster.read import read_roster  # noqa: E402
from bulk_provision.roster.recipe import apply_recipe, read_with_recipe  # noqa: E402
from bulk_provision.roster.validation import validate_roster  # noqa: E402

TARGET_RATIO = 1.20
EXPORT_HEADER = ["Employee ID", "Preferred First Name", "Last Name", "Work Email", "Department",
                 "Status", "Start Date"]
FIRST = ["Łukasz", "Søren", "José", "Zoë", "Amélie", "Björn", "Jürgen", "Ærin", "Ağca", "Ines"]
LAST = ["Müller", "Núñez", "O'Neill", "Dvořák", "Łęcki", "Strauß", "Øvergård", "Ça Va", "Smith"]
DEPARTMENTS = ["Sales", "Customer Care", "Customer Care", "Team Leads", "Finance"]
RECIPE = b"""\
[columns]
PartnerUserID = "Employee ID"
UserFirst = "Preferred First Name"
UserLast = "Last Name"
UserEmail = "Work Email"

[compute]
UserAddress = "{UserFirst|ascii|lower}.{UserLast|slug}.acme.glance.net"

[lookup.UserRole]
from = "Department"
map = { "Sales" = "Agent", "Customer Care" = "Agent", "Team Leads" = "Supervisor" }
default = "-none-"

[status]
column = "Status"
leaver = ["Terminated", "Leaver"]
active = ["Active", "On Leave"]

[ignore]
columns = ["Start Date"]
"""


def status(i: int) -> str:
    if i % 50 == 7:
        return "Terminated"  # 2%
    return "On Leave" if i % 20 == 3 else "Active"


def export_rows(n: int) -> list[list[str]]:
    """P2's people as an HR export; last names distinct per row, as P2's are, so every
    computed address is different and the recipe folds 100,000 distinct last names."""
    return [
        [
            f"{i:07d}",
            FIRST[i % len(FIRST)],
            f"{LAST[i % len(LAST)]}{i}",
            f"user{i}@example.com",
            DEPARTMENTS[i % len(DEPARTMENTS)],
            status(i),
            f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}",
        ]
        for i in range(n)
    ]


def write_csv(path: Path, header: list[str], data: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(data)
    return path


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def plain(path: Path) -> tuple[float, float, Any]:
    load, roster = timed(lambda: read_roster(path))
    validate, result = timed(lambda: validate_roster(roster))
    return load, validate, result


def with_recipe(path: Path, recipe: Recipe) -> tuple[float, float, Any]:
    load, roster = timed(lambda: read_with_recipe(path, sheet=None, recipe=recipe))
    validate, result = timed(lambda: validate_roster(roster))
    return load, validate, result


def recipe_step(path: Path, recipe: Recipe) -> tuple[float, float]:
    load, roster = timed(lambda: read_roster(path, column_map=recipe.column_map,
                                             claimed=recipe.claimed))
    apply, _ = timed(lambda: apply_recipe(roster, recipe))
    return load, apply


def check(result: Any, n: int, what: str) -> None:
    assert result.rows == n, f"{what}: {result.rows} rows, expected {n}"
    assert result.ok, f"{what}: {len(result.problems)} problems, e.g. {result.problems[:3]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args(argv)
    n = options.rows
    recipe = parse_recipe(RECIPE, "p11.recipe.toml")
    times: dict[str, list[float]] = {k: [] for k in (
        "plain load", "plain validate", "recipe load", "recipe validate", "export read",
        "apply_recipe")}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        glance = write_csv(Path(folder) / "roster.csv", HEADER, rows(n))
        export = write_csv(Path(folder) / "hr_export.csv", EXPORT_HEADER, export_rows(n))
        print(f"generated {n:,} rows twice in {time.perf_counter() - started:.1f} s "
              f"(P2 csv {glance.stat().st_size / 2**20:.1f} MB, "
              f"export csv {export.stat().st_size / 2**20:.1f} MB)")
        for _ in range(options.rounds):
            load, validate, result = plain(glance)
            check(result, n, "plain")
            times["plain load"].append(load)
            times["plain validate"].append(validate)
            load, validate, result = with_recipe(export, recipe)
            check(result, n, "recipe")
            times["recipe load"].append(load)
            times["recipe validate"].append(validate)
            load, apply = recipe_step(export, recipe)
            times["export read"].append(load)
            times["apply_recipe"].append(apply)
    report({k: statistics.median(v) for k, v in times.items()}, options.rounds)
    return 0


def report(median: dict[str, float], rounds: int) -> None:
    plain_total = median["plain load"] + median["plain validate"]
    recipe_total = median["recipe load"] + median["recipe validate"]
    print(f"medians of {rounds} interleaved rounds:")
    print(f"plain   read_roster {median['plain load']:.3f} s + validate "
          f"{median['plain validate']:.3f} s = {plain_total:.3f} s")
    print(f"recipe  read_with_recipe {median['recipe load']:.3f} s + validate "
          f"{median['recipe validate']:.3f} s = {recipe_total:.3f} s")
    print(f"        of which apply_recipe alone {median['apply_recipe']:.3f} s "
          f"({median['apply_recipe'] / recipe_total:.0%} of the recipe side; the export's "
          f"read_roster with the column map {median['export read']:.3f} s)")
    ratio = recipe_total / plain_total
    print(f"P11 recipe / plain: {ratio:.2f} vs target <= {TARGET_RATIO:.2f} "
          f"({'met' if ratio <= TARGET_RATIO else 'MISSED'})")


if __name__ == "__main__":
    sys.exit(main())
