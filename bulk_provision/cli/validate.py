"""``bulk-provision validate ROSTER``: load and check a roster; nothing is sent to Glance."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bulk_provision.cli.connection import add_connection_options, open_client, settings_for
from bulk_provision.cli.options import add_json_option
from bulk_provision.cli.summary import human, print_json, summary_lines
from bulk_provision.errors import Ending
from bulk_provision.jobs.summary import command_document, problem_entry, recipe_entry
from bulk_provision.jobs.validate import validate_job
from bulk_provision.settings.paths import (
    Role,
    check_workbook_output,
    default_journal,
    journal_roles,
)
from bulk_provision.settings.spec import JobSpec
from bulk_provision.terminal import printable

DESCRIPTION = """\
Load a roster (CSV or Excel) and check every row against Glance's rules: required columns,
lengths, address characters, password length, email syntax, AudioProvider and Action values,
roles, and duplicate IDs or addresses within the file. Prints a summary; exits 0 when every row
is valid, 3 when some are not, 2 when the roster cannot be read.

--schema FILE replaces the built-in rules with a Python file of your own defining
  build_schema(roles) -> pandera.pandas.DataFrameSchema (it may reuse
  bulk_provision.schemas.checks).
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
    parser.add_argument("--recipe", type=Path, metavar="FILE",
                        help="how your HR export becomes a roster (see `bulk-provision recipe`)")
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="write a workbook of the problems (.xlsx)"
    )
    parser.add_argument(
        "--check-roles", action="store_true", default=None,
        help="check UserRole against Glance's ShowRoles",
    )
    parser.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    add_json_option(parser)
    add_connection_options(parser)
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> Ending:
    if args.report is not None:
        check_report_path(args)
    spec = JobSpec.from_settings(vars(args), settings_for(args), os.environ)
    if spec.check_roles:
        with open_client(spec.connection) as client:
            roster, result = validate_job(spec, client, report=args.report)
    else:
        roster, result = validate_job(spec, report=args.report)
    out = human(args)
    for line in summary_lines(roster, result):
        print(printable(line), file=out)
    if args.report is not None:
        print(printable(f"Report: {args.report}"), file=out)
    ending = Ending.FINISHED if result.ok else Ending.INVALID
    if args.json:
        invalid = len(result.invalid_rows)
        print_json(command_document(
            "validate", ending, roster=spec.roster_path, total=result.rows,
            counts={"rows": result.rows, "valid": result.rows - invalid, "invalid": invalid},
            files={"report": args.report} if args.report is not None else {},
            problems=[problem_entry(p) for p in result.problems],
            warnings=[{"row": w.row, "column": w.column, "message": w.message}
                      for w in roster.warnings],
            recipe=recipe_entry(roster),
        ))
    return ending


def check_report_path(args: argparse.Namespace) -> None:
    """Refuse a report path that cannot work, or that is the roster or another input, before
    any time is spent validating."""
    inputs = [("", "the roster itself", args.roster),
              ("--schema", "the --schema file", args.schema),
              ("--columns", "the --columns file", args.columns),
              ("--recipe", "the recipe", args.recipe),
              ("--config", "the config file", args.config)]
    check_workbook_output("--report", "the report workbook", args.report, [
        *(Role(option, noun, Path(p), output=False) for option, noun, p in inputs if p),
        *journal_roles(default_journal(args.roster))])
