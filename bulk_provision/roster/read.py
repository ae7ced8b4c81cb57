"""Read a roster (CSV or Excel) into an all-text DataFrame. The only spreadsheet reader.

* ``read_roster(path, *, sheet=None, column_map=None) -> Roster``
* ``Roster.frame``: every cell a ``str`` ("" for an empty cell, never NaN/None; dtype object);
  the index is the spreadsheet's own row number (header = row 1, so the first data row is 2);
  known columns are renamed to their canonical API names (``CANONICAL_COLUMNS``); unknown columns
  are kept under their own header, in file order.
* ``Roster.headers``: frame column -> header exactly as written in the file (trimmed).
* ``Roster.warnings``: cells Excel stored as numbers, dates or TRUE/FALSE, by row and column
  (never quoting the value of a password column).
* ``Roster.secret_columns``: the frame columns whose values are never shown: ``UserPW`` and any
  unrecognised header that looks like a password (``roster_headers.looks_like_password``).

The header is the first non-empty row (row 1 in a normal file). Every cell and header is trimmed
of whitespace, non-breaking spaces, zero-width spaces and stray byte-order marks; completely empty
rows are dropped (the others keep their numbers); completely empty columns without a header are
dropped. Excel is read through python-calamine (``roster_excel``), CSV through pandas' C parser
(``roster_csv``); openpyxl is only the writer elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bulk_provision.columns import CANONICAL_COLUMNS, PASSWORD_COLUMNS
from bulk_provision.errors import Hint, RosterError, Where
from bulk_provision.recipe.applied import Applied
from bulk_provision.roster.csv_reader import read_csv_grid
from bulk_provision.roster.excel_reader import (
    NUMBER_CELL,
    RawWarning,
    check_sheet_extent,
    check_workbook_bytes,
    choose_sheet,
    open_workbook,
    read_sheet_grid,
    zero_padded_cells,
)
from bulk_provision.roster.headers import canonical_column, looks_like_password, resolve_headers

__all__ = [
    "CANONICAL_COLUMNS",
    "Roster",
    "RosterWarning",
    "canonical_column",
    "looks_like_password",
    "read_roster",
]

SECRET_WARNING = (
    "Excel stored this cell as a number or date; it was read as text (not shown: a password "
    "column) — format the column as Text in Excel to be sure"
)
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
# Whitespace (str.strip's set), plus characters that arrive invisibly from copy and paste.
_TRIM = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b\u200c\u200d\u2060"
)


@dataclass(frozen=True)
class RosterWarning:
    """Something the reader noticed but could read, e.g. a cell Excel stored as a number."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class Roster:
    path: Path
    frame: pd.DataFrame
    headers: dict[str, str]
    sha256: str
    sheet: str | None = None
    warnings: list[RosterWarning] = field(default_factory=list)
    encoding: str | None = None  # CSV only: the encoding that was detected
    delimiter: str | None = None  # CSV only: the delimiter that was detected
    recipe: Applied | None = None  # what a --recipe built (roster.recipe.apply_recipe)

    @property
    def file_columns(self) -> list[str]:
        """The frame columns that are the file's own, in its order (not those a recipe built):
        what the failed-rows file writes back, so it runs again with the same recipe."""
        derived = self.recipe.derived if self.recipe else {}
        return [str(c) for c in self.frame.columns if c not in derived]

    def number_cells(self, column: str) -> frozenset[int]:
        """The rows whose ``column`` cell Excel stored as a number (an ID that may have lost
        its leading zeros there, never in a CSV file, which holds text only)."""
        return frozenset(w.row for w in self.warnings
                         if w.column == column and w.message.startswith(NUMBER_CELL))

    @property
    def secret_columns(self) -> frozenset[str]:
        """``UserPW`` and the unrecognised columns whose header looks like a password."""
        return PASSWORD_COLUMNS | {
            column
            for column in self.frame.columns
            if column not in CANONICAL_COLUMNS
            and looks_like_password(self.headers.get(column, str(column)))
        }


def read_roster(
    path: str | Path,
    *,
    sheet: str | None = None,
    column_map: Mapping[str, str] | None = None,
    claimed: Collection[str] = (),
) -> Roster:
    """Read a roster file into an all-text :class:`Roster`; RosterError when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + EXCEL_SUFFIXES:
        accepted = ", ".join(CSV_SUFFIXES + EXCEL_SUFFIXES)
        raise RosterError(
            f"{path.name}: unknown file type {suffix or '(none)'}; use one of {accepted}"
        )
    data = _read_bytes(path)
    sha256 = hashlib.sha256(data).hexdigest()
    raw_warnings: list[RawWarning] = []
    encoding = sheet_name = delimiter = None
    if suffix in CSV_SUFFIXES:
        if sheet is not None:
            raise RosterError(f"{path.name} is a CSV file: it has no sheets", hint=Hint.NO_SHEETS)
        grid = read_csv_grid(data, tab_separated=suffix == ".tsv")
        encoding = str(grid.attrs.get("encoding"))
        delimiter = str(grid.attrs.get("delimiter"))
    else:
        shared = check_workbook_bytes(data, suffix)
        workbook = open_workbook(data, suffix)
        sheet_name = choose_sheet(workbook, sheet)
        if suffix != ".xls":
            try:
                check_sheet_extent(data, sheet_name, shared)
            except RosterError as exc:  # name the file, as every reading error does
                raise RosterError(f"{path.name}: {exc}", where=Where(file=path.name)) from exc
        padded = zero_padded_cells(data, sheet_name) if suffix != ".xls" else {}
        grid, raw_warnings = read_sheet_grid(workbook, sheet_name, padded)
    del data
    try:
        frame, headers, positions = _shape(grid, column_map, claimed)
    except RosterError as exc:  # name the file (and sheet): "which roster has no rows?"
        where = f"{path.name}, sheet {sheet_name!r}" if sheet_name else path.name
        hint = Hint.PICK_SHEET if sheet_name and sheet is None else exc.hint
        raise RosterError(f"{where}: {exc}", where=Where(file=path.name), hint=hint) from exc
    roster = Roster(path, frame, headers, sha256, sheet_name, [], encoding, delimiter)
    secret = roster.secret_columns
    roster.warnings = [
        RosterWarning(row, name, SECRET_WARNING if name in secret else message)
        for row, position, message in raw_warnings
        if (name := positions.get(position)) is not None and row in frame.index
    ]
    return roster


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise RosterError(f"roster {path} does not exist: check the path")
    if path.is_dir():
        raise RosterError(f"roster {path} is a directory: give the roster file itself")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"cannot read roster {path}: {exc.strerror or exc}") from exc
    if not data:
        raise RosterError(f"roster {path.name} is empty (0 bytes)")
    return data


def _shape(
    grid: pd.DataFrame, column_map: Mapping[str, str] | None, claimed: Collection[str] = ()
) -> tuple[pd.DataFrame, dict[str, str], dict[int, str]]:
    """Trimmed grid -> (frame with named columns, headers, column position -> frame column)."""
    table = grid.to_numpy(dtype=object)
    cells = [_trim(table[:, position]) for position in range(table.shape[1])]
    filled = np.zeros(len(grid), dtype=bool)
    for column in cells:
        filled |= column != ""
    rows = np.flatnonzero(filled)
    if len(rows) == 0:
        raise RosterError("the roster has no header and no data rows: it is empty")
    header_at, data_rows = rows[0], rows[1:]
    if len(data_rows) == 0:
        raise RosterError("the roster has a header but no data rows")
    header_cells = [str(column[header_at]) for column in cells]
    keep = [
        position
        for position, header in enumerate(header_cells)
        if header or (cells[position][data_rows] != "").any()
    ]
    names = resolve_headers([header_cells[p] for p in keep], column_map, claimed)
    index = pd.Index(grid.index[data_rows], name="row")
    frame = pd.DataFrame(
        {name: cells[p][data_rows] for name, p in zip(names, keep, strict=True)},
        index=index,
        dtype=object,
    )
    headers = {name: header_cells[p] for name, p in zip(names, keep, strict=True)}
    return frame, headers, dict(zip(keep, names, strict=True))


def _trim(values: np.ndarray) -> np.ndarray:
    return np.array([value.strip(_TRIM) for value in values], dtype=object)
