"""``bulk-provision validate ROSTER``: load and check a roster; nothing is sent to Glance."""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bulk_provision.cli.connection import add_connection_options, make_client, settings_for
from bulk_provision.errors import UsageError
from bulk_provision.job import server_roles
from bulk_provision.paths import Role, check_distinct
from bulk_provision.report.validation_report import write_validation_report
from bulk_provision.retry import EngineOptions
from bulk_provision.roster import Roster, load_column_map, read_roster
from bulk_provision.terminal import printable
from bulk_provision.validation import Problem, ValidationResult, validate_roster

ROWS_SHOWN = 5  # row numbers listed per rule
WARNINGS_SHOWN = 5

DESCRIPTION = """\
Load a roster (CSV or Excel) and check every row against Glance's rules: required columns,
lengths, address characters, password length, email syntax, AudioProvider and Action values,
roles, and duplicate IDs or addresses within the file. Prints a summary; exits 0 when every row
is valid, 3 when some are not, 2 when the roster cannot be read.

--schema FILE replaces the built-in rules with a Python file of your own defining
  build_schema(roles) -> pandera.pandas.DataFrameSchema (it may reuse schemas.checks).
--roles A,B   UserRole must then be one of these (ignoring case), or -none-, or empty.
--check-roles also accept the roles Glance lists (ShowRoles; needs the GLANCE_* connection
  settings). ShowRoles omits roles nobody has yet: add those with --roles.

example:
  bulk-provision validate staff.xlsx --roles Agent,Supervisor --report staff.problems.xlsx
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "validate",
        help="check a roster without sending anything",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("roster", type=Path, metavar="ROSTER")
    parser.add_argument("--sheet", help="Excel sheet to read (default: the first)")
    parser.add_argument("--schema", type=Path, metavar="FILE", help="rules from a Python file")
    parser.add_argument("--roles", metavar="A,B", help="comma-separated list of allowed roles")
    parser.add_argument("--columns", type=Path, metavar="FILE", help="TOML header -> column map")
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="write a workbook of the problems (.xlsx)"
    )
    parser.add_argument(
        "--check-roles", action="store_true", help="check UserRole against Glance's ShowRoles"
    )
    parser.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    add_connection_options(parser)
    parser.set_defaults(handler=run_validate)


def parse_roles(text: str | None) -> list[str] | None:
    """``A, B`` -> ["A", "B"]; None when no list was given."""
    if text is None:
        return None
    roles = [r.strip() for r in text.split(",") if r.strip()]
    if not roles:
        raise UsageError("--roles needs at least one role name, e.g. --roles Agent,Supervisor")
    return roles


def configured_roles(args: argparse.Namespace) -> list[str] | None:
    """The role list to check against: ``--roles`` (or the config file's ``roles``), plus
    Glance's with ``--check-roles`` (or ``check_roles = true``)."""
    settings = settings_for(args)
    listed = args.roles if args.roles is not None else settings.get("roles")
    roles = parse_roles(",".join(listed) if isinstance(listed, list) else listed)
    if not (args.check_roles or settings.get("check_roles", False)):
        return roles
    with make_client(args, settings.environment(os.environ), pool_size=1) as client:
        return server_roles(client, roles, EngineOptions())


def run_validate(args: argparse.Namespace) -> int:
    if args.report is not None:
        check_report_path(args)
    column_map = load_column_map(args.columns) if args.columns else None
    roles = configured_roles(args)
    roster = read_roster(args.roster, sheet=args.sheet, column_map=column_map)
    result = validate_roster(roster, roles=roles, schema=args.schema)
    for line in summary_lines(roster, result):
        print(printable(line))
    if args.report is not None:
        try:
            write_validation_report(args.report, roster, result)
        except OSError as exc:
            raise UsageError(f"cannot write {args.report}: {exc.strerror or exc}") from exc
        print(printable(f"Report: {args.report}"))
    return 0 if result.ok else 3


def check_report_path(args: argparse.Namespace) -> None:
    """Refuse a report path that cannot work, or that is the roster or another input, before
    any time is spent validating."""
    path: Path = args.report
    if path.suffix.lower() != ".xlsx":
        raise UsageError(f"--report {path}: the report is a workbook, name it .xlsx")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {path.parent} does not exist")
    inputs = [("", "the roster itself", args.roster),
              ("--schema", "the --schema file", args.schema),
              ("--columns", "the --columns file", args.columns),
              ("--config", "the config file", args.config)]
    check_distinct([*(Role(option, noun, Path(p), output=False) for option, noun, p in inputs if p),
                    Role("--report", "the report workbook", path)])


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


def warning_lines(roster: Roster) -> list[str]:
    """The cells stored as numbers or dates (validate, run and plan all print these)."""
    if not roster.warnings:
        return []
    count = len(roster.warnings)
    were = "1 cell was" if count == 1 else f"{count} cells were"
    lines = [f"Warnings: {were} stored as numbers or dates; check they read as intended"]
    lines.extend(f"  {w}" for w in roster.warnings[:WARNINGS_SHOWN])
    if count > WARNINGS_SHOWN:
        lines.append(f"  ... and {count - WARNINGS_SHOWN} more")
    return lines


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
