"""The results workbook (DESIGN.md section 6): Summary, Results and Problems sheets.

Results are keyed by spreadsheet row number: ``results[row]`` is the RowResult for the roster row
``row``. Users with no roster row (sync suspensions, ``row is None``) come in ``extra_results``
and are listed after the roster's rows with an empty Row. :func:`split_results` turns the
checkpoint's ``results().values()`` into that shape.

The workbook is built in openpyxl write-only mode; the Results rows themselves are streamed
straight into the sheet's XML at save time (see ``_rows_xml``: P5 needs it), and the file is
saved atomically (temp file beside it, then rename). Every cell is a value: roster text is
written as inline strings, so ``=1+2``, ``+33 6 12``, ``@SUM(A1)`` or ``#N/A`` read back exactly
as typed, never as a formula or error, with no apostrophe added. Passwords (``UserPW`` and any
column whose header looks like one) show as ``***``; the Problems sheet also lists the cells
stored as numbers or dates, as warnings.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zipfile import ZIP_DEFLATED, ZipFile

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bulk_provision.model import Outcome, RowResult
from bulk_provision.report.common import (
    BAD_FILL,
    HEADER_FONT,
    ILLEGAL_XML,
    REPLACEMENT,
    cell_text,
    discard,
    header_row,
    splice_rows,
    temp_beside,
    text_cell,
    width_for,
    xml_safe,
)
from bulk_provision.report.problems import (
    roster_column_lookup,
    warning_entries,
    write_problems_sheet,
)
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import MASK, Problem, ValidationResult

RESULT_COLUMNS = (
    "Row", "Action", "Outcome", "Message", "dialIn", "hostCode", "guestCode", "Attempts",
)
BAD_OUTCOMES = frozenset({Outcome.FAILED, Outcome.INVALID, Outcome.UNFINISHED})
WIDTH_SAMPLE = 1000  # rows looked at to size a column


@dataclass
class RunSummary:
    """What the Summary sheet shows besides the counts, which come from the results."""

    tool_version: str
    roster_path: str
    roster_sha256: str
    mode: str
    endpoint: str
    started: datetime
    finished: datetime
    exit_code: int | None
    recipe: str = ""  # "acme.recipe.toml (SHA-256 ...)" when a --recipe read the export
    profile: str = ""  # the config file's [profile.NAME], when one was chosen
    partner_login: str = ""  # the partner group's login: which Glance group it ran against
    selection: str = ""  # a wave, as recorded: "rows 2-21; Department=Sales"; "" for all
    wave: str = ""  # the same in words: "rows 2-21 of staff.xlsx where ... (20 people)"


def split_results(results: Iterable[RowResult]) -> tuple[dict[int, RowResult], list[RowResult]]:
    """Checkpoint results -> (by spreadsheet row, users without a roster row)."""
    by_row: dict[int, RowResult] = {}
    extra: list[RowResult] = []
    for result in results:
        if result.row is None:
            extra.append(result)
        else:
            by_row[result.row] = result
    return by_row, extra


def write_results(
    path: Path,
    roster: Roster,
    results: Mapping[int, RowResult],
    problems: Sequence[Problem],
    summary: RunSummary,
    *,
    extra_results: Sequence[RowResult] = (),
) -> None:
    """Write the results workbook to ``path`` atomically (an old file survives a failure)."""
    frame = _displayed(roster.frame, roster.secret_columns)
    outcomes = row_outcomes(frame.index, results, {p.row for p in problems})
    wb = Workbook(write_only=True)
    _write_summary(wb, summary, list(outcomes.values()) + [r.outcome for r in extra_results])
    messages = _problem_messages(problems)
    tails = [_tail(row, results.get(row), outcomes[row], messages) for row in frame.index]
    tails += [_tail(None, r, r.outcome, messages) for r in extra_results]
    ws = _start_results_sheet(wb, roster, frame, tails)
    bad_style = _style_id(ws, BAD_FILL)
    row_lookup = {row: position for position, row in enumerate(frame.index, start=2)}
    shown = [replace(p, value=_clean(p.value), message=_clean(p.message)) for p in problems]
    write_problems_sheet(
        wb, shown, link_sheet="Results", row_lookup=row_lookup,
        column_lookup=roster_column_lookup(roster), warnings=warning_entries(roster),
    )
    lines = _lines(frame, tails, [r.key for r in extra_results])
    rows_xml = _rows_xml(lines, len(frame.columns) + len(RESULT_COLUMNS), bad_style)
    _save_with_rows(wb, ws, rows_xml, Path(path))


def _displayed(frame: pd.DataFrame, secret: frozenset[str]) -> pd.DataFrame:
    """The roster as shown: passwords masked, characters XML cannot hold replaced."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if column in secret:
            values = values.where(values == "", MASK)
        elif values.str.contains(ILLEGAL_XML).any():
            values = values.str.replace(ILLEGAL_XML, REPLACEMENT, regex=True)
        shown[column] = values
    return shown


def row_outcomes(
    rows: Iterable[int], results: Mapping[int, RowResult], invalid: Collection[int]
) -> dict[int, Outcome]:
    """The Outcome of every roster row: its result's, else ``invalid`` or ``not attempted``
    (a valid row that never reached a plan: the run stopped before planning)."""
    outcomes = {}
    for row in rows:
        result = results.get(row)
        if result is not None:
            outcomes[row] = result.outcome
        else:
            outcomes[row] = Outcome.INVALID if row in invalid else Outcome.NOT_ATTEMPTED
    return outcomes


def outcome_counts(
    roster: Roster, validation: ValidationResult, results: Mapping[str, RowResult]
) -> Counter[Outcome]:
    """Rows per Outcome, as the Results sheet lists them: every roster row once, then the users
    without a roster row (sync suspensions)."""
    by_row, extra = split_results(results.values())
    counts = Counter(row_outcomes(roster.frame.index, by_row, validation.invalid_rows).values())
    counts.update(r.outcome for r in extra)
    return counts


def _write_summary(wb: Workbook, summary: RunSummary, outcomes: Sequence[Outcome]) -> None:
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = float(max(40, len(summary.roster_path) + 2))
    pairs: list[tuple[str, Any]] = [
        ("Tool version", summary.tool_version),
        ("Roster", summary.roster_path),
        ("Roster SHA-256", summary.roster_sha256),
        *([("Selection", summary.selection), ("Wave", summary.wave)]
          if summary.selection else []),
        *([("Recipe", summary.recipe)] if summary.recipe else []),
        ("Mode", summary.mode),
        *([("Profile", summary.profile)] if summary.profile else []),
        ("Endpoint", summary.endpoint),
        *([("Partner login", summary.partner_login)] if summary.partner_login else []),
        ("Started", _timestamp(summary.started)),
        ("Finished", _timestamp(summary.finished)),
    ]
    pairs += [(outcome.value, outcomes.count(outcome)) for outcome in Outcome]
    pairs += [("Total", len(outcomes)), ("Exit code", summary.exit_code)]
    for label, value in pairs:
        ws.append([text_cell(ws, label, font=HEADER_FONT), text_cell(ws, _clean(value))])


def _timestamp(moment: datetime) -> str:
    # Text, not an Excel date: Excel has no time zones, and the offset matters to a reader.
    return moment.isoformat(sep=" ", timespec="seconds")


def _start_results_sheet(
    wb: Workbook, roster: Roster, frame: pd.DataFrame, tails: Sequence[list[Any]]
) -> WriteOnlyWorksheet:
    """The Results sheet's layout and header; its rows are streamed in at save time."""
    ws = wb.create_sheet("Results")
    headers = result_headers([_clean(roster.headers.get(c, str(c))) for c in frame.columns])
    _size_columns(ws, headers, frame, tails)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(tails) + 1}"
    ws.append(header_row(ws, headers))
    return ws


def result_headers(roster_headers: Sequence[str]) -> list[str]:
    """The Results sheet's header: the roster's headers, then :data:`RESULT_COLUMNS`.

    Every header is unique (ignoring case). A roster header that is one of the tool's ("Row",
    "Action", ...) becomes "Row (roster)"; one still taken after that (the roster also has a
    "Row (roster)" column, or the same header twice) gets a number: "Row (roster 2)", "Notes (2)".
    """
    taken = set(_TOOL_HEADERS)
    unique: list[str] = []
    for header in roster_headers:
        ours = header.casefold() in _TOOL_HEADERS
        candidate, count = (f"{header} (roster)" if ours else header), 1
        while candidate.casefold() in taken:
            count += 1
            candidate = f"{header} (roster {count})" if ours else f"{header} ({count})"
        taken.add(candidate.casefold())
        unique.append(candidate)
    return [*unique, *RESULT_COLUMNS]


_TOOL_HEADERS = frozenset(name.casefold() for name in RESULT_COLUMNS)


def _style_id(ws: WriteOnlyWorksheet, fill: PatternFill) -> int:
    """Register ``fill`` in the workbook's styles; its index is a cell's ``s`` attribute."""
    cell = WriteOnlyCell(ws)
    cell.fill = fill
    return int(cell.style_id)


def _lines(
    frame: pd.DataFrame, tails: Sequence[list[Any]], extra_keys: Sequence[str]
) -> Iterator[tuple[list[str | None], list[Any]]]:
    """(roster cells, result cells) per line; an empty cell is None (no cell written at all).

    Users with no roster row (sync suspensions) show their PartnerUserID in its column.
    """
    for values, tail in zip(frame.itertuples(index=False, name=None), tails, strict=False):
        yield [v if v != "" else None for v in values], tail
    columns = list(frame.columns)
    key_at = columns.index("PartnerUserID") if "PartnerUserID" in columns else None
    for key, tail in zip(extra_keys, tails[len(frame) :], strict=True):
        cells: list[str | None] = [None] * len(columns)
        if key_at is not None:
            cells[key_at] = _clean(key)
        yield cells, tail


def _problem_messages(problems: Sequence[Problem]) -> dict[int, str]:
    grouped: dict[int, list[str]] = {}
    for problem in problems:
        grouped.setdefault(problem.row, []).append(problem.message)
    return {row: "; ".join(texts) for row, texts in grouped.items()}


def _tail(
    row: int | None, result: RowResult | None, outcome: Outcome, messages: Mapping[int, str]
) -> list[Any]:
    """The Row ... Attempts cells of one line of the Results sheet."""
    if result is None:
        message = _clean(messages.get(row, "")) if row is not None else ""
        return [row, None, outcome.value, message or None, None, None, None, 0]
    audio = result.audio
    return [
        row,
        result.kind.value,
        outcome.value,
        _clean(result.message) or None,
        _clean(audio.dial_in) or None,
        _clean(audio.host_code) or None,
        _clean(audio.guest_code) or None,
        result.attempts,
    ]


def _clean(value: Any) -> Any:
    return xml_safe(value) if isinstance(value, str) else value


def _size_columns(
    ws: WriteOnlyWorksheet, headers: Sequence[str], frame: pd.DataFrame, tails: Sequence[list[Any]]
) -> None:
    sample = frame.head(WIDTH_SAMPLE)
    tail_sample = tails[:WIDTH_SAMPLE]
    roster_width = len(frame.columns)
    for index, header in enumerate(headers):
        if index < roster_width:
            values: list[Any] = sample.iloc[:, index].tolist()
        else:
            values = [t[index - roster_width] for t in tail_sample]
        width = width_for([header, *(v for v in values if v is not None)])
        ws.column_dimensions[get_column_letter(index + 1)].width = width


# Streaming the Results rows. openpyxl spends ~7 us per cell (a Cell object, type inference, an
# lxml element); at 1.8 million cells that alone misses P5. The rows are plain strings and ints,
# so they are written straight into the sheet's XML, as the inline-string cells openpyxl itself
# writes in write-only mode: always text, so a roster cell such as "=1+2" stays text.

_MAX_CELL = 32767  # Excel's limit on the characters in one cell


def _rows_xml(lines: Iterable[tuple[list[str | None], list[Any]]], width: int,
              bad_style: int) -> Iterator[str]:
    letters = [get_column_letter(i) for i in range(1, width + 1)]
    for number, (values, tail) in enumerate(lines, start=2):
        bad = tail[2] in BAD_OUTCOMES
        style = f' s="{bad_style}"' if bad else ""
        parts = [f'<row r="{number}">']
        for letter, value in zip(letters, [*values, *tail], strict=True):
            if value is None:
                if bad:
                    parts.append(f'<c r="{letter}{number}"{style}/>')
            elif type(value) is int:
                parts.append(f'<c r="{letter}{number}"{style}><v>{value}</v></c>')
            else:
                parts.append(f'<c r="{letter}{number}"{style} t="inlineStr"><is>'
                             f"{_text_xml(value)}</is></c>")
        parts.append("</row>")
        yield "".join(parts)


# A value without any of these, and without outer whitespace, is its own XML text: the common
# case (names, addresses, IDs) skips the escaping below, ten times the cost of this one search.
_NEEDS_CARE = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")


def _text_xml(value: str) -> str:
    if len(value) <= _MAX_CELL and not _NEEDS_CARE.search(value) and value == value.strip():
        return f"<t>{value}</t>"
    if len(value) > _MAX_CELL:
        value = value[:_MAX_CELL]
    space = ' xml:space="preserve"' if value != value.strip() else ""
    value = cell_text(value)
    return f"<t{space}>{escape(value, {chr(13): '&#13;'})}</t>"


def _save_with_rows(wb: Workbook, ws: WriteOnlyWorksheet, rows: Iterable[str], path: Path) -> None:
    """Save ``wb`` with ``rows`` appended to ``ws``'s sheetData, atomically (temp, rename)."""
    made: list[Path] = []
    try:
        skeleton = _temp_beside(path, made)
        final = _temp_beside(path, made)
        wb.save(skeleton)
        part = ws.path.lstrip("/")
        # Level 1, as the export: a quarter of the deflate time for a fifth more bytes
        with ZipFile(skeleton) as src, ZipFile(final, "w", ZIP_DEFLATED, compresslevel=1) as dst:
            for info in src.infolist():
                if info.filename == part:
                    splice_rows(src.read(info).decode(), rows, dst, part)
                else:
                    dst.writestr(info, src.read(info))
        os.replace(final, path)
    except BaseException:
        discard(wb)  # no "Exception ignored" tracebacks from openpyxl after the message
        raise
    finally:
        for temp in made:
            temp.unlink(missing_ok=True)


def _temp_beside(path: Path, made: list[Path]) -> Path:
    """A new owner-only (0600) temporary file beside ``path``, added to ``made``."""
    made.append(temp_beside(path))
    return made[-1]
