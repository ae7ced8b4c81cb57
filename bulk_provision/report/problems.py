"""The ``Problems`` sheet and the roster sheet with its offending cells highlighted.

Both work on a write-only or a normal openpyxl workbook. The roster sheet comments only the first
:data:`MAX_COMMENTS` broken cells (each comment costs openpyxl a drawing object: 100,000 of
them took most of a minute and gigabytes); the rest are filled only, and the Problems sheet lists
every problem whatever their number. Every value is written as text through
:func:`text_cell`, so a roster cell such as ``=1+2`` stays exactly that text. Warnings (cells
stored as numbers or dates) can follow the problems: rule ``warning``, a message starting
"Warning", filled yellow; they never make a row invalid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from bulk_provision.report.common import (
    BAD_FILL,
    WARN_FILL,
    header_row,
    is_plain,
    text_cell,
    width_for,
)
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import MASK, Problem

PROBLEM_HEADERS = ("Row", "Column", "Value", "Message", "Rule")
WARNING_RULE = "warning"
COMMENT_AUTHOR = "bulk-provision"
_SAMPLE = 1000  # rows looked at to size a column
MAX_COMMENTS = 1000  # broken cells of the roster sheet that get a comment; the rest a fill only


def write_problems_sheet(
    wb: Workbook,
    problems: Sequence[Problem],
    *,
    link_sheet: str | None,
    row_lookup: Mapping[int, int] | None,
    column_lookup: Mapping[str, int] | None = None,
    title: str = "Problems",
    warnings: Sequence[Problem] = (),
) -> None:
    """Add a sheet listing ``problems``, each row number linked to its row in ``link_sheet``.

    ``row_lookup`` maps a roster row number to its row in ``link_sheet`` (None: the same number);
    ``column_lookup`` maps a problem's column to its column number there, to land on the very
    cell (None or not found: column A).
    """
    ws = wb.create_sheet(title)
    sample = problems[:_SAMPLE]
    widths = [
        width_for([p.row for p in sample] + ["Row"], maximum=10),
        width_for([p.column for p in sample] + ["Column"], maximum=30),
        width_for([p.value for p in sample] + ["Value"], maximum=40),
        width_for([p.message for p in sample] + ["Message"], maximum=90),
        width_for([p.rule for p in sample] + ["Rule"], maximum=30),
    ]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append(header_row(ws, PROBLEM_HEADERS))
    for number, problem in enumerate([*problems, *warnings]):
        fill = WARN_FILL if number >= len(problems) else None
        row_cell = text_cell(ws, problem.row, fill=fill)
        target_row = problem.row if row_lookup is None else row_lookup.get(problem.row)
        if link_sheet is not None and target_row is not None:
            target_col = (column_lookup or {}).get(problem.column, 1)
            _link(row_cell, link_sheet, target_row, target_col)
        ws.append(
            [row_cell, *(text_cell(ws, v, fill=fill) for v in (problem.column, problem.value,
                                                               problem.message, problem.rule))]
        )
    ws.auto_filter.ref = f"A1:E{len(problems) + len(warnings) + 1}"


def _link(cell: Cell, sheet: str, row: int, column: int) -> None:
    where = f"{quote_sheetname(sheet)}!{get_column_letter(column)}{row}"
    cell.hyperlink = Hyperlink(ref="", location=where)
    cell.style = "Hyperlink"


def warning_entries(roster: Roster) -> list[Problem]:
    """The roster's warnings as Problems-sheet lines (rule ``warning``; passwords masked)."""
    secret = roster.secret_columns
    entries = []
    for warning in roster.warnings:
        value = str(roster.frame.at[warning.row, warning.column])
        entries.append(Problem(
            warning.row,
            roster.headers.get(warning.column, warning.column),
            MASK if warning.column in secret and value else value,
            WARNING_RULE,
            f"Warning (the row is still valid): {warning.message}",
        ))
    return entries


def roster_column_lookup(roster: Roster) -> dict[str, int]:
    """Header as a Problem names it -> column number in :func:`write_roster_sheet`."""
    return {roster.headers.get(c, str(c)): i for i, c in enumerate(roster.frame.columns, start=1)}


def write_roster_sheet(
    wb: Workbook, roster: Roster, problems: Sequence[Problem], *, title: str = "Roster"
) -> None:
    """Add the roster as read (original headers, passwords as ``***``), each data row on its own
    spreadsheet row number, broken cells filled and commented with their problems' messages.
    """
    ws = wb.create_sheet(title)
    columns = list(roster.frame.columns)
    labels = [roster.headers.get(c, str(c)) for c in columns]
    notes: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for problem in problems:
        notes[problem.row][problem.column].append(problem.message)
    head = roster.frame.head(_SAMPLE)
    for index, (column, label) in enumerate(zip(columns, labels, strict=True), start=1):
        width = width_for([*head[column].tolist(), label], maximum=40)
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append(header_row(ws, labels))
    hidden = roster.secret_columns
    secret = [c in hidden for c in columns]
    written = 1
    comments = [MAX_COMMENTS]  # left to give
    for row, values in zip(roster.frame.index, roster.frame.itertuples(index=False), strict=True):
        for _ in range(int(row) - written - 1):  # rows the reader skipped (empty) stay empty
            ws.append([])
        written = int(row)
        shown = [MASK if hide and v else v for v, hide in zip(values, secret, strict=True)]
        ws.append(_row_cells(ws, shown, labels, notes.get(written), comments))


def _row_cells(
    ws: Worksheet, values: list[str], labels: list[str], notes: Mapping[str, list[str]] | None,
    comments: list[int],
) -> list[object]:
    """One roster row: plain text where that is safe (fast), a styled cell where flagged, with
    a comment while ``comments[0]`` (decremented) lasts."""
    cells: list[object] = []
    for value, label in zip(values, labels, strict=True):
        messages = notes.get(label) if notes else None
        if messages:
            cell = text_cell(ws, value, fill=BAD_FILL)
            if comments[0] > 0:
                comments[0] -= 1
                cell.comment = Comment("\n".join(messages), COMMENT_AUTHOR)
            cells.append(cell)
        elif not value:
            cells.append(None)
        elif is_plain(value):
            cells.append(value)
        else:  # a formula, an error code, an _xHHHH_ escape or unwritable: text_cell
            cells.append(text_cell(ws, value))
    return cells
