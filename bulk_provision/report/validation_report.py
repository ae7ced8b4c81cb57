"""The workbook ``validate --report`` writes: what is wrong, and where, in the admin's roster."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from bulk_provision.report.common import atomic_save
from bulk_provision.report.problems import (
    roster_column_lookup,
    write_problems_sheet,
    write_roster_sheet,
)
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import ValidationResult

ROSTER_SHEET = "Roster"


def write_validation_report(path: Path, roster: Roster, result: ValidationResult) -> None:
    """Write ``Problems`` (each linked to its cell) then ``Roster`` (broken cells filled and
    commented) to ``path``, atomically. Roster rows keep their spreadsheet row numbers.
    """
    wb = Workbook(write_only=True)
    write_problems_sheet(
        wb,
        result.problems,
        link_sheet=ROSTER_SHEET,
        row_lookup=None,
        column_lookup=roster_column_lookup(roster),
    )
    write_roster_sheet(wb, roster, result.problems, title=ROSTER_SHEET)
    atomic_save(wb, Path(path))

