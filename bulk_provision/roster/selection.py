"""One wave of a roster: the rows a :class:`~bulk_provision.settings.selection.Selection` picks.

:func:`select_rows` narrows a roster that was read (and translated by its recipe) to the selected
rows, before validation: only they are validated, planned, sent and reported; the others are not
touched and appear nowhere. Row numbers stay the spreadsheet's own. A selection that cannot mean
what was asked (rows beyond the roster, a column it does not have, nothing left) is a UsageError
(exit 2) in an HR admin's words, before any request.

Values are compared as the roster reader reads cells (outer spaces trimmed) and without case:
``--where "Department=sales"`` picks the rows whose Department reads "Sales".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from bulk_provision.columns import normalize_header
from bulk_provision.errors import UsageError
from bulk_provision.roster.headers import canonical_column
from bulk_provision.roster.read import Roster
from bulk_provision.settings.selection import Condition, Selection, merged_ranges

__all__ = ["describe", "select_rows"]

COLUMNS_NAMED = 30  # columns listed when a --where column is not there


def select_rows(roster: Roster, selection: Selection | None) -> Roster:
    """``roster`` with only the rows ``selection`` picks (itself when there is none)."""
    if selection is None:
        return roster
    frame = roster.frame
    _check_rows_exist(roster, selection)
    keep = _in_ranges(frame.index.to_numpy(dtype=np.int64), selection.ranges)
    for condition in selection.where:
        keep &= _matches(roster, condition)
    rows = frame.index[keep]
    if selection.first is not None:
        rows = rows[: selection.first]
    if len(rows) == 0:
        raise UsageError(f"no rows match {selection.text} in {roster.path.name} "
                         f"({_people(len(frame))}, {_span(roster)}); nothing was sent")
    return _narrowed(roster, rows)


def describe(selection: Selection, roster: Roster) -> str:
    """The wave in an HR admin's words: ``rows 2-21 of staff.xlsx (20 people)``, ``rows of
    staff.xlsx where Department is Sales, the first 20 (20 people)``."""
    where = " and ".join(f"{c.column} is {' or '.join(v or '(empty)' for v in c.values)}"
                         for c in selection.where)
    single = len(selection.ranges) == 1 and selection.ranges[0][0] == selection.ranges[0][1]
    text = (f"{'row' if single else 'rows'} {selection.rows_text} of {roster.path.name}"
            if selection.ranges else f"rows of {roster.path.name}")
    text += f" where {where}" if where else ""
    text += f", the first {selection.first}" if selection.first is not None else ""
    return f"{text} ({_people(len(roster.frame))})"


def _check_rows_exist(roster: Roster, selection: Selection) -> None:
    last = int(roster.frame.index.max())
    if selection.last_row > last:
        raise UsageError(f"--rows {selection.rows_text} goes beyond the roster: "
                         f"{roster.path.name} has {_people(len(roster.frame))}, "
                         f"{_span(roster)}")


def _in_ranges(numbers: np.ndarray, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
    """Which row ``numbers`` fall in one of ``ranges`` (all of them without ranges): one
    binary search per row over the ranges merged, so a page's wave of thousands of separate
    rows costs no more than one range."""
    if not ranges:
        return np.ones(len(numbers), dtype=bool)
    merged = merged_ranges(ranges)  # a plan's recorded ranges may predate the merging
    lows = np.array([low for low, _ in merged], dtype=np.int64)
    highs = np.array([high for _, high in merged], dtype=np.int64)
    at = np.searchsorted(lows, numbers, side="right") - 1
    return (at >= 0) & (numbers <= highs[np.maximum(at, 0)])


def _matches(roster: Roster, condition: Condition) -> np.ndarray:
    column = _column(roster, condition.column)
    wanted = {value.casefold() for value in condition.values}
    cells = roster.frame[column].map(lambda cell: str(cell).strip().casefold())
    return cells.isin(wanted).to_numpy(dtype=bool)


def _column(roster: Roster, name: str) -> str:
    """The frame column ``--where`` names: the roster's own header or the Glance field name
    (or a header alias of one, as headers are read: "Employee ID", "Role")."""
    key = normalize_header(name)
    columns = [str(c) for c in roster.frame.columns]
    for column in columns:
        if key in (normalize_header(roster.headers.get(column, column)),
                   normalize_header(column)):
            return _not_secret(roster, column, name)
    alias = canonical_column(name)
    if alias in columns:
        return _not_secret(roster, alias, name)
    named = [_label(roster, c) for c in columns]
    listed = ", ".join(named[:COLUMNS_NAMED]) + (
        f" and {len(named) - COLUMNS_NAMED} more" if len(named) > COLUMNS_NAMED else "")
    raise UsageError(f"--where {name}: {roster.path.name} has no column {name!r}; its columns "
                     f"are {listed}")


def _not_secret(roster: Roster, column: str, name: str) -> str:
    if column in roster.secret_columns:
        raise UsageError(f"--where {name}: a password column cannot pick a wave; choose another "
                         "column")
    return column


def _label(roster: Roster, column: str) -> str:
    header = roster.headers.get(column, column)
    return header if header == column else f"{header} ({column})"


def _narrowed(roster: Roster, rows: pd.Index) -> Roster:
    """The roster, its warnings and its recipe's findings for ``rows`` only."""
    chosen = set(rows.tolist())
    applied = roster.recipe
    if applied is not None:
        applied = replace(applied, problems=[p for p in applied.problems if p.row in chosen],
                          leavers=frozenset(r for r in applied.leavers if r in chosen))
    return replace(roster, frame=roster.frame.loc[rows],
                   warnings=[w for w in roster.warnings if w.row in chosen], recipe=applied)


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def _span(roster: Roster) -> str:
    index = roster.frame.index
    first, last = int(index.min()), int(index.max())
    return f"in row {first}" if first == last else f"in rows {first}-{last}"
