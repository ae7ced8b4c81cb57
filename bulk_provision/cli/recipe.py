"""``bulk-provision recipe EXPORT``: a draft recipe for an HR system's export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bulk_provision.errors import Ending
from bulk_provision.jobs.recipe import draft_job, write_draft
from bulk_provision.terminal import printable

DESCRIPTION = """\
Read an HR system's export (CSV or Excel) and write a draft recipe: the Glance field each header
fills (the known names, and a header that plainly holds one, like "Work Email"), a UserAddress
template built from the names, the values of a status column sorted into leavers and active
people, and the values of a department column listed for you to give each a Glance role. What
it could not decide is listed at the top of the draft and printed here. Nothing is sent to
Glance. Without --out the draft is printed; with --out it is written there (never over an
existing file).

example:
  bulk-provision recipe workday.csv --out acme.recipe.toml
  bulk-provision validate workday.csv --recipe acme.recipe.toml
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "recipe",
        help="draft a recipe that turns an HR export into a Glance roster",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", type=Path, metavar="EXPORT")
    parser.add_argument("--out", type=Path, metavar="FILE.recipe.toml",
                        help="write the draft here (default: print it)")
    parser.add_argument("--sheet", help="Excel sheet to read (default: the first)")
    parser.set_defaults(handler=run_recipe)


def run_recipe(args: argparse.Namespace) -> Ending:
    roster, draft, text = draft_job(args.export, sheet=args.sheet)
    if args.out is None:
        for line in text.splitlines():
            print(printable(line))
        notes = sys.stderr
    else:
        write_draft(args.out, text, inputs=(args.export,))
        notes = sys.stdout
        print(printable(f"Draft recipe written: {args.out}"), file=notes)
    mapped = ", ".join(f"{name} <- {header}" for name, header in draft.columns.items())
    print(printable(f"Read {roster.path.name}: {len(roster.frame)} rows; mapped {mapped}"),
          file=notes)
    if draft.undecided:
        print("Not decided (edit the recipe):", file=notes)
        for line in draft.undecided:
            print(printable(f"  - {line}"), file=notes)
    return Ending.FINISHED
