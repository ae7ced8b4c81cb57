"""A wave's selection of roster rows: ``--rows``, ``--where`` and ``--first``, as written.

A migration goes in waves (a canary of 20 people, then a department, then the rest), each one
``plan`` and ``run`` over part of one roster (DESIGN.md section 13). This module only reads the
options into a :class:`Selection` and says it back as plain text; which rows of a roster it picks
is ``roster.selection``'s job, once the roster is read.

* ``--rows 2-21,40``: roster row numbers as the results workbook shows them (the spreadsheet's own,
  header = row 1, so people start at row 2); ranges and single rows, separated by commas.
* ``--where "Department=Sales,Care"`` (repeatable; every one must hold): COLUMN is the roster's own
  header or the Glance field name; the value is any of the comma-separated ones, compared without
  outer spaces or case.
* ``--first 20``: the first 20 rows the rest of the selection leaves, in roster order.

The plain text (:attr:`Selection.text`, e.g. ``rows 2-21; Department=Sales; first 20``) is what the
journal, the plan, the results workbook and ``--json`` record, and it is part of a run's identity:
a run with another selection never resumes this one's journal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulk_provision.errors import UsageError

__all__ = ["Condition", "Selection", "compact_rows", "parse_selection", "wave_tag"]

ROWS_EXAMPLE = "e.g. --rows 2-21,40 (row numbers as the results workbook shows them)"
WHERE_EXAMPLE = 'e.g. --where "Department=Sales" or --where "Department=Sales,Care"'
_RANGE = re.compile(r"([0-9]{1,9})(?:[ \t]*-[ \t]*([0-9]{1,9}))?")  # ASCII digits only
FIRST_ROW = 2  # row 1 is the header


@dataclass(frozen=True)
class Condition:
    """``--where COLUMN=VALUE[,VALUE]``: the row's COLUMN cell is one of ``values``."""

    column: str
    values: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.column}={','.join(self.values)}"


@dataclass(frozen=True)
class Selection:
    """Which rows of a roster one wave takes; every part is optional, at least one is given."""

    ranges: tuple[tuple[int, int], ...] = ()
    where: tuple[Condition, ...] = ()
    first: int | None = None

    @property
    def rows_text(self) -> str:
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in self.ranges)

    @property
    def text(self) -> str:
        """The plain record: ``rows 2-21,40; Department=Sales; first 20``."""
        parts = [f"rows {self.rows_text}"] if self.ranges else []
        parts += [condition.text for condition in self.where]
        parts += [f"first {self.first}"] if self.first is not None else []
        return "; ".join(parts)

    @property
    def last_row(self) -> int:
        return max((b for _, b in self.ranges), default=0)

    def to_json(self) -> dict[str, Any]:
        """What a plan workbook records (and :meth:`from_json` reads back)."""
        return {"rows": [list(r) for r in self.ranges],
                "where": [[c.column, list(c.values)] for c in self.where],
                "first": self.first, "text": self.text}

    @classmethod
    def from_json(cls, value: object) -> Selection:
        """The selection a plan recorded; ValueError when it is not one (an edited plan)."""
        if not isinstance(value, Mapping):
            raise ValueError("the selection is not a JSON object")
        ranges = tuple((int(a), int(b)) for a, b in value.get("rows") or [])
        where = tuple(Condition(str(column), tuple(str(v) for v in values))
                      for column, values in value.get("where") or [])
        first = value.get("first")
        return cls(ranges, where, None if first is None else int(first))


def wave_tag(text: str) -> str:
    """The tag a wave's default files carry (journal, results, plan, failed rows), from its
    recorded text: ``.rows-2-21-2728fd`` (readable, and unique by a short digest of the exact
    text), or "" for the whole roster."""
    if not text:
        return ""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40].rstrip("-")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return f".{slug}-{digest}" if slug else f".wave-{digest}"


def compact_rows(numbers: Iterable[int]) -> str:
    """Row numbers as ``--rows`` takes them, runs joined: ``[2, 3, 4, 9]`` -> ``"2-4,9"``."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    start = previous = None
    for number in [*ordered, None]:
        if number is not None and previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ",".join(parts)


def parse_selection(
    rows: str | None, where: Sequence[str] | None, first: object
) -> Selection | None:
    """The selection the options give, or None when none of them was; UsageError (exit 2, one
    line) for a malformed one."""
    if rows is None and not where and first is None:
        return None
    return Selection(
        ranges=parse_rows(rows) if rows is not None else (),
        where=tuple(parse_where(text) for text in where or ()),
        first=parse_first(first) if first is not None else None,
    )


def parse_rows(text: str) -> tuple[tuple[int, int], ...]:
    """``"2-21, 40"`` -> ``((2, 21), (40, 40))``."""
    shown = str(text).strip()[:60]
    ranges = []
    for part in str(text).split(","):
        match = _RANGE.fullmatch(part.strip())
        if match is None:
            raise UsageError(f"--rows {shown!r} is not a list of row numbers; {ROWS_EXAMPLE}")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if low > high:
            raise UsageError(f"--rows {low}-{high} goes backwards: write the lower row first "
                             f"(--rows {high}-{low})")
        if low < FIRST_ROW:
            raise UsageError(f"--rows {part.strip()}: row 1 is the header; people start at row "
                             f"{FIRST_ROW}")
        ranges.append((low, high))
    return merged_ranges(ranges)


def merged_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted, overlapping and touching ranges joined: the same rows are the same wave
    (``2-3,3-4`` and ``4,2-3`` are ``2-4``), whichever way they were written."""
    joined: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if joined and low <= joined[-1][1] + 1:
            joined[-1] = (joined[-1][0], max(joined[-1][1], high))
        else:
            joined.append((low, high))
    return tuple(joined)


def parse_where(text: str) -> Condition:
    """``"Department = Sales, Care"`` -> ``Condition("Department", ("Sales", "Care"))``."""
    column, equals, values = str(text).partition("=")
    if not equals or not column.strip():
        raise UsageError(f"--where {str(text)[:60]!r} needs COLUMN=VALUE; {WHERE_EXAMPLE}")
    return Condition(column.strip(), tuple(v.strip() for v in values.split(",")))


def parse_first(value: object) -> int:
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) == 0:
        raise UsageError(f"--first {text[:20]!r}: give how many people, a whole number from 1 "
                         "(e.g. --first 20)")
    return int(text)
