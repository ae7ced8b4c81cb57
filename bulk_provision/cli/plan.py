"""``bulk-provision plan``: read-only; what ``run`` would do, as a workbook."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

from bulk_provision.cli.connection import (
    ENVIRONMENT_HELP,
    add_connection_options,
    open_client,
    settings_for,
)
from bulk_provision.cli.options import add_job_options, input_roles
from bulk_provision.cli.summary import summary_lines, warning_lines
from bulk_provision.errors import Ending, UsageError, ValidationFailed
from bulk_provision.job import build_plan, load_and_validate
from bulk_provision.paths import Role, check_distinct
from bulk_provision.report.plan_report import SHOWN, write_plan
from bulk_provision.settings import JobSpec
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
    out = args.out or args.roster.with_name(f"{args.roster.stem}.plan.xlsx")
    check_distinct([Role("", "the roster itself", args.roster, output=False),
                    *input_roles(spec), Role("--out", "the plan workbook", out)])
    with open_client(spec.connection) as client:
        roster, validation = load_and_validate(spec, client)
        invalid = len(validation.invalid_rows)
        if invalid and not spec.skip_invalid:
            for line in summary_lines(roster, validation):
                print(printable(line))
            raise ValidationFailed(
                f"{invalid} of {validation.rows} rows are invalid; fix them first "
                "or use --skip-invalid"
            )
        actions, refusal = build_plan(spec, roster, validation, client)
    write_plan(out, actions, mode=spec.mode, endpoint=spec.endpoint)
    for line in warning_lines(roster):
        print(printable(line))
    counts = Counter(SHOWN[a.kind] for a in actions)
    for name in SHOWN.values():
        if counts.get(name):
            print(f"  {name:<10} {counts[name]:>7}")
    if invalid:
        print(f"  invalid    {invalid:>7}  (skipped)")
    print(printable(f"plan: {out}"))
    if refusal is not None:
        raise UsageError(refusal)  # run would refuse this plan: exit 2, the workbook shows why
    return Ending.FINISHED
