"""What a command prints: a roster's validation (validate, plan, run), refusal details, and the
``--json`` document (every command that takes it)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import Problem, ValidationResult

ROWS_SHOWN = 5  # row numbers listed per rule
WARNINGS_SHOWN = 5
DETAILS_SHOWN = 10  # reasons listed under a refusal


def detail_lines(exc: BaseException, shown: int = DETAILS_SHOWN) -> list[str]:
    """The reasons a refusal lists (``errors.Refused.details``): a few, then "and N more"."""
    details: list[str] = list(getattr(exc, "details", None) or [])
    lines = details[:shown]
    if len(details) > shown:
        lines.append(f"and {len(details) - shown} more")
    return lines


def print_json(document: Mapping[str, Any]) -> None:
    """The ``--json`` document, alone on stdout (ASCII: nothing in it can move a terminal)."""
    print(json.dumps(document, indent=2, ensure_ascii=True))


def human(args: object) -> Any:
    """Where the human summary goes: stdout, or stderr when stdout carries ``--json``."""
    return sys.stderr if getattr(args, "json", False) else sys.stdout


def summary_lines(roster: Roster, result: ValidationResult) -> list[str]:
    invalid = len(result.invalid_rows)
    lines = [
        f"Roster: {roster.path}" + (f" (sheet {roster.sheet})" if roster.sheet else ""),
        f"Rows: {result.rows}  valid: {result.rows - invalid}  invalid: {invalid}",
    ]
    if result.problems:
        lines.append("Problems:")
        lines.extend(_rule_lines(result.problems))
    return lines + warning_lines(roster)


def recipe_lines(roster: Roster) -> list[str]:
    """What the --recipe did: its name, the leavers, the first values it built, the export's
    headers nothing uses (validate, run and plan all print these)."""
    applied = roster.recipe
    if applied is None:
        return []
    leavers = len(applied.leavers)
    lines = [f"Recipe: {applied.recipe.name}: {leavers} leaver{'' if leavers == 1 else 's'} "
             "(suspended in Glance, never deleted)" if applied.has_status else
             f"Recipe: {applied.recipe.name} (no [status]: nobody is treated as a leaver)"]
    for column, derivation in applied.derived.items():
        if derivation.computed:
            first = [str(v) for v in roster.frame[column].head(3) if v]
            lines.append(f"  {column} = {derivation.how}: " + ", ".join(first)
                         + (", ..." if len(roster.frame) > 3 else ""))
    lines.extend(f"Warning: {note}" for note in applied.notes)
    return lines


def warning_lines(roster: Roster) -> list[str]:
    """What the recipe did, and the cells stored as numbers or dates (validate, run and plan
    all print these)."""
    if not roster.warnings:
        return recipe_lines(roster)
    count = len(roster.warnings)
    were = "1 cell was" if count == 1 else f"{count} cells were"
    lines = [f"Warnings: {were} stored as numbers or dates; check they read as intended"]
    lines.extend(f"  {w}" for w in roster.warnings[:WARNINGS_SHOWN])
    if count > WARNINGS_SHOWN:
        lines.append(f"  ... and {count - WARNINGS_SHOWN} more")
    return recipe_lines(roster) + lines


def _rule_lines(problems: Sequence[Problem]) -> list[str]:
    by_rule: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        by_rule[problem.rule].append(problem)
    width = max(len(rule) for rule in by_rule)
    lines = []
    for rule, found in sorted(by_rule.items(), key=lambda item: (-len(item[1]), item[0])):
        rows = sorted({p.row for p in found})
        plural = "" if len(rows) == 1 else "s"
        more = ", ..." if len(rows) > ROWS_SHOWN else ""
        shown = ", ".join(str(r) for r in rows[:ROWS_SHOWN]) + more
        count = f"{len(rows)} row{plural}"
        lines.append(f"  {rule:<{width}}  {count:>9}  (row{plural} {shown})  {found[0].message}")
    return lines
