"""``bulk-provision plan``: read-only; what ``run`` would do, as a workbook."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

from bulk_provision.cli.connection import (
    ENVIRONMENT_HELP,
    add_connection_options,
    open_client,
    settings_for,
)
from bulk_provision.cli.options import add_job_options, input_roles
from bulk_provision.cli.summary import human, print_json, summary_lines, warning_lines
from bulk_provision.errors import Ending, UsageError, ValidationFailed
from bulk_provision.jobs.plan import plan_job, write_plan_workbook
from bulk_provision.jobs.summary import command_document, problem_entry, recipe_entry
from bulk_provision.report.plan_report import SHOWN
from bulk_provision.roster.read import Roster
from bulk_provision.roster.selection import describe
from bulk_provision.settings.paths import (
    Role,
    check_workbook_output,
    default_journal,
    journal_roles,
)
from bulk_provision.settings.spec import JobSpec
from bulk_provision.terminal import printable

DESCRIPTION = """\
Show what `bulk-provision run` would do with ROSTER, without changing anything in Glance:
each row's action (create / update with the changed fields / suspend / reinstate / delete /
no change) and, with --mode sync, the users that would be suspended. Reads ShowUsers.

example:
  bulk-provision plan staff.xlsx --mode sync --out tonight.plan.xlsx
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="show what run would do (read-only)",
        description=DESCRIPTION,
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_job_options(p)
    p.add_argument("--out", type=Path, help="plan workbook (default ROSTER-STEM.plan.xlsx)")
    add_connection_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> Ending:
    spec = JobSpec.from_settings(vars(args), settings_for(args), os.environ)
    out = args.out or args.roster.with_name(f"{args.roster.stem}{spec.wave_tag}.plan.xlsx")
    check_workbook_output("--out", "the plan workbook", out, [
        Role("", "the roster itself", args.roster, output=False), *input_roles(spec),
        *journal_roles(spec.checkpoint_path), *journal_roles(default_journal(args.roster))])
    text = human(args)
    with open_client(spec.connection) as client:
        planned = plan_job(spec, client)
        roster, validation, invalid = planned.roster, planned.validation, planned.invalid
        if planned.actions is None:
            for line in summary_lines(roster, validation):
                print(printable(line), file=text)
            message = (f"{invalid} of {validation.rows} rows are invalid; fix them first "
                       "or use --skip-invalid")
            if not args.json:
                raise ValidationFailed(message)
            print(f"bulk-provision: error: {message}", file=sys.stderr)
            print_json(command_document(
                "plan", Ending.INVALID, message=message, roster=spec.roster_path, mode=spec.mode,
                endpoint=spec.endpoint, problems=[problem_entry(p) for p in validation.problems],
                recipe=recipe_entry(roster), selection=spec.selection_text or None))
            return Ending.INVALID
    write_plan_workbook(out, spec, planned)
    refusal, counts = planned.refusal, planned.counts
    if spec.selection is not None:
        print(printable(f"wave: {describe(spec.selection, roster)}"), file=text)
    print_plan(text, roster, counts, invalid, out, run_command(spec, out) if refusal is None
               else None)
    if args.json:
        print_json(command_document(
            "plan", Ending.USAGE if refusal else Ending.FINISHED,
            counts=counts | {"invalid": invalid},
            files={"plan": out}, refusal=refusal, message=refusal or "",
            roster=spec.roster_path, mode=spec.mode, endpoint=spec.endpoint,
            recipe=recipe_entry(roster), selection=spec.selection_text or None,
        ))
        if refusal is not None:
            print(printable(f"bulk-provision: error: {refusal}"), file=sys.stderr)
            return Ending.USAGE
    if refusal is not None:
        raise UsageError(refusal)  # run would refuse this plan: exit 2, the workbook shows why
    return Ending.FINISHED


def run_command(spec: JobSpec, plan: Path) -> str:
    """The command that carries out ``plan``: the roster, and how it was read (the sheet,
    the --columns map or the --recipe), which run --plan must read the same way."""
    words = ["bulk-provision", "run", str(spec.roster_path), "--plan", str(plan)]
    if spec.sheet:
        words += ["--sheet", spec.sheet]
    if spec.recipe_file is not None:
        words += ["--recipe", str(spec.recipe_file)]
    elif spec.columns_file is not None:
        words += ["--columns", str(spec.columns_file)]
    return shlex.join(words)


def print_plan(
    text: TextIO, roster: Roster, counts: dict[str, int], invalid: int, out: Path,
    runnable: str | None,
) -> None:
    """The counts per action, the plan's path and, for a plan ``run`` would accept, the
    command (``runnable``) that carries it out."""
    for line in warning_lines(roster):
        print(printable(line), file=text)
    width = max([len(name) for name in SHOWN.values() if counts.get(name)] + [10])
    for name in SHOWN.values():
        if counts.get(name):
            print(f"  {name:<{width}} {counts[name]:>7}", file=text)
    if invalid:
        print(f"  {'invalid':<{width}} {invalid:>7}  (skipped)", file=text)
    print(printable(f"plan: {out}"), file=text)
    if runnable is not None:
        print(printable(f"to carry out exactly this plan: {runnable}"), file=text)
