"""``bulk-provision template FILE.xlsx``: an empty roster to fill in."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bulk_provision.errors import Ending, UsageError
from bulk_provision.report.template import TEMPLATE_ROWS, write_template
from bulk_provision.terminal import printable

DESCRIPTION = f"""\
Write an empty roster workbook: a Roster sheet with the column headers (text-formatted, so IDs
keep their leading zeros), Excel data validation on the first {TEMPLATE_ROWS:,} rows where Excel
can check a rule itself (AudioProvider and Action lists, text lengths), and a Notes sheet
explaining every column and its rules. An existing file is kept unless --force is given.

example:
  bulk-provision template staff.xlsx
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "template",
        help="write an empty roster workbook with notes and data validation",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, metavar="FILE.xlsx")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.set_defaults(handler=run_template)


def run_template(args: argparse.Namespace) -> Ending:
    path: Path = args.path
    if path.suffix.lower() != ".xlsx":
        raise UsageError(f"{path}: the template is an Excel workbook, name it .xlsx")
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; use --force to replace it")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: folder {path.parent} does not exist")
    try:
        write_template(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(printable(f"Template written: {path}"))
    return Ending.FINISHED
