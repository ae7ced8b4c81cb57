"""The failed-rows file: ``<roster-stem>.failed.<ext>``, the rows to fix and run again.

Beside the results workbook, every run writes the roster rows that ``failed`` (Glance refused
them) or were ``invalid`` (validation), in the roster's own format (CSV stays CSV with the same
delimiter and encoding; .xlsx stays .xlsx; .xls and .xlsm become .xlsx), with the roster's own
headers and cells exactly as read (leading zeros kept, ``=``-leading text stays text), plus a
``Problem (bulk-provision)`` column saying what to fix (a roster's own ``Problem`` column is
kept as it is). Rows left ``unfinished`` or ``not attempted`` are not in
it: a plain re-run of the roster finishes those. Fix the cells, then run the file itself.

Passwords are kept as the roster had them (a re-run needs them, and the admin's roster holds them
already); the file is therefore owner-only (0600), written atomically like every workbook.

A run with no failed or invalid row removes a failed-rows file an earlier run of the same roster
left there, so a stale file never suggests that something is still to fix.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook

from bulk_provision.columns import FAILED_ROWS_PROBLEM, normalize_header
from bulk_provision.model import Outcome, RowResult
from bulk_provision.report.common import (
    BAD_FILL,
    atomic_save,
    header_row,
    temp_beside,
    text_cell,
)
from bulk_provision.roster.read import CSV_SUFFIXES, Roster
from bulk_provision.roster.validation import ValidationResult

#: The tool's column: a name of its own, so a roster's own ``Problem`` column is kept as it is,
#: and a failed file run again has its column refilled, not doubled.
PROBLEM_HEADER = FAILED_ROWS_PROBLEM
_BOMS = {
    "utf-8-sig": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
}


def failed_rows_path(roster_path: Path, results_path: Path, tag: str = "") -> Path:
    """``<roster-stem>.failed.<ext>`` in the folder of the results workbook; a wave's carries
    its ``tag`` (``settings.selection.wave_tag``): ``<roster-stem><tag>.failed.<ext>``."""
    suffix = roster_path.suffix
    if suffix.lower() not in (*CSV_SUFFIXES, ".xlsx"):
        suffix = ".xlsx"  # .xls cannot be written, .xlsm would lose its macros
    return Path(results_path).parent / f"{roster_path.stem}{tag}.failed{suffix}"


def row_problems(
    roster: Roster, validation: ValidationResult, results: Iterable[RowResult]
) -> dict[int, str]:
    """Spreadsheet row -> what to fix, for every failed or invalid roster row, in row order."""
    found: dict[int, list[str]] = defaultdict(list)
    for problem in validation.problems:
        found[problem.row].append(problem.message)
    for result in results:
        if result.row is not None and result.outcome is Outcome.FAILED:
            found[result.row].append(f"Glance refused it: {result.message or 'no reason given'}")
    rows = [row for row in roster.frame.index if row in found]
    return {row: f"row {row}: " + "; ".join(found[row]) for row in rows}


def write_failed_rows(path: Path, roster: Roster, problems: dict[int, str]) -> Path | None:
    """Write the failed rows to ``path`` (or remove a stale file when there are none).

    Returns the path written, or None when nothing failed.
    """
    if not problems:
        path.unlink(missing_ok=True)
        return None
    header, lines, at = _table(roster, problems)
    if path.suffix.lower() in CSV_SUFFIXES:
        _write_csv(path, roster, header, lines)
    else:
        _write_xlsx(path, roster, header, lines, at)
    return path


def _table(
    roster: Roster, problems: dict[int, str]
) -> tuple[list[str], list[list[str]], int]:
    """Header texts, cells and the tool's Problem column's position; a roster column already
    named so (a failed file run again) is refilled rather than doubled."""
    frame = roster.frame[roster.file_columns]  # not what a recipe built: it runs again with it
    header = [roster.headers.get(column, str(column)) for column in frame.columns]
    wanted = normalize_header(PROBLEM_HEADER)
    at = next((i for i, text in enumerate(header) if normalize_header(text) == wanted), None)
    if at is None:
        header.append(PROBLEM_HEADER)
    position = len(header) - 1 if at is None else at
    rows = frame.loc[list(problems)].to_numpy(dtype=object).tolist()
    lines = []
    for row_number, cells in zip(problems, rows, strict=True):
        cells = [str(cell) for cell in cells]
        if at is None:
            cells.append(problems[row_number])
        else:
            cells[at] = problems[row_number]
        lines.append(cells)
    return header, lines, position


def _write_csv(path: Path, roster: Roster, header: list[str], lines: list[list[str]]) -> None:
    encoding = roster.encoding or "utf-8"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=roster.delimiter or ",", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    data = _BOMS.get(encoding, b"") + buffer.getvalue().encode(codec, errors="replace")
    temp = temp_beside(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_xlsx(
    path: Path, roster: Roster, header: list[str], lines: list[list[str]], problem_at: int
) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(roster.sheet or "Roster")
    sheet.freeze_panes = "A2"
    sheet.append(header_row(sheet, header))
    for cells in lines:
        sheet.append([
            text_cell(sheet, cell, fill=BAD_FILL if position == problem_at else None)
            for position, cell in enumerate(cells)
        ])
    atomic_save(workbook, path)
