"""What a CSV may cost, checked on its bytes before a parser builds anything (DESIGN.md section
11, docs/operations.md "What an input may cost").

A parser turns every field into a Python object and every line into a row as wide as the header,
so a small file can still ask for an enormous grid: millions of blank or comma-only lines, or one
line of twenty million fields. Each check here is a few passes of C-speed byte counting (or numpy
over fixed-size chunks), so it costs a fraction of what parsing would, and memory stays flat:

* :func:`without_empty_tail` drops the blank and comma-only lines at the end of the file (Excel
  writes one for each formatted but empty row); they hold nothing and number nothing after them.
* :func:`check_sparse` refuses a file whose lines x header width is far beyond the characters of
  values it holds (blank lines before or between the rows), with the same rule as a sheet's
  used range.
* :func:`check_wide_lines` refuses a line with more fields than a spreadsheet has columns
  (16,384), trailing empty fields not counted, or a field longer than a spreadsheet cell can
  hold (32,767 characters), naming its line, before any parser splits it.
* :func:`is_utf8` and :func:`control_bytes` look at the whole file a chunk at a time, so neither
  holds a second copy of it.
"""

from __future__ import annotations

import codecs
import re

import numpy as np

from bulk_provision.errors import RosterError

MAX_FIELDS = 16_384  # Excel's own column limit
MAX_SEPARATORS = 1_000_000  # on one line, trailing ones included: no spreadsheet writes more
MAX_CELL_CHARS = 32_767  # Excel's own limit for the text of one cell
_MAX_CELL_BYTES = 4 * MAX_CELL_CHARS  # UTF-8: a field longer than this has more characters
# The grid (lines x header width) may hold at most this many cells, or SPARSE_FACTOR x the
# characters of values the file holds: the same rule as a sheet's used range.
GRID_FLOOR = 2_000_000
SPARSE_FACTOR = 8
CHUNK = 4 * 1024 * 1024
_QUOTED = re.compile(rb'"[^"]*"')


def is_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), CHUNK):
            decoder.decode(view[start : start + CHUNK], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def control_bytes(data: bytes, controls: bytes) -> int:
    """How many bytes of ``data`` are in ``controls``, a chunk at a time."""
    count = 0
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        count += len(chunk) - len(chunk.translate(None, controls))
    return count


def lf_line_ends(utf8: bytes) -> bytes:
    """A file whose lines all end in a lone CR (old Mac exports) with LF line ends instead, so
    every check here counts the lines the parser will see (a copy only then). A file with LF
    line ends keeps its CRs: they may be inside quoted values (:func:`check_sparse` still counts
    a lone CR as a line end)."""
    if b"\n" in utf8 or b"\r" not in utf8:
        return utf8
    return utf8.replace(b"\r", b"\n")


def without_empty_tail(utf8: bytes, delimiter: str) -> bytes:
    """``utf8`` without the blank and delimiter-only lines at its end (one final newline kept
    as it was). A copy is made only when there is more than one such line to drop."""
    empty = b" \t\r\n" + delimiter.encode()
    end = len(utf8)
    while end > 0:
        start = max(0, end - CHUNK)
        kept = utf8[start:end].rstrip(empty)
        end = start + len(kept)
        if kept:
            break
    if utf8.count(b"\n", end) <= 1:
        return utf8
    return utf8[:end] + b"\n"


def check_sparse(utf8: bytes, delimiter: str, header: str) -> None:
    """Refuse a file whose grid (lines x header width) is out of proportion to its values."""
    lone_cr = utf8.count(b"\r") - utf8.count(b"\r\n")  # a line end to the parser too
    lines = utf8.count(b"\n") + lone_cr + (not utf8.endswith(b"\n"))
    width = header.rstrip(" \t\r" + delimiter).count(delimiter) + 1
    blank = sum(utf8.count(byte) for byte in {delimiter.encode(), b"\n", b"\r", b" ", b"\t"})
    values = len(utf8) - blank
    if lines * width > max(GRID_FLOOR, SPARSE_FACTOR * values):
        raise RosterError(
            f"the roster has {lines:,} lines but only {max(values, 0):,} characters of values: "
            "most of its lines are empty. Delete the empty rows (in Excel, Ctrl+End shows the "
            "last cell), save it as CSV again and try again"
        )


def check_wide_lines(utf8: bytes, delimiter: str, header: str = "") -> None:
    """Refuse the first line with more than MAX_FIELDS fields (trailing empty ones not counted)
    or with a field of more than MAX_CELL_CHARS characters. Only lines longer than MAX_FIELDS
    bytes can be either, so numpy finds those a chunk at a time and only they are looked at,
    in place: nothing is copied but a line already known to be too wide."""
    mark = delimiter.encode()
    for start, end in _long_lines(utf8, MAX_FIELDS):
        fields = utf8.count(mark, start, end) + 1
        if fields > MAX_SEPARATORS:  # not even as trailing empty fields: no export has them
            raise RosterError(too_wide(_line_number(utf8, start), fields))
        if fields > MAX_FIELDS:
            fields = _fields(utf8[start:end], delimiter)
        if fields > MAX_FIELDS:
            raise RosterError(too_wide(_line_number(utf8, start), fields))
        field = _long_field(utf8, start, end, mark) if end - start > _MAX_CELL_BYTES else -1
        if field >= 0:
            names = header.split(delimiter)
            position = utf8.count(mark, start, field)
            column = names[position].strip(' "') if position < len(names) else ""
            where = f", column {column}," if column else ""
            raise RosterError(
                f"row {_line_number(utf8, start)}{where} has a value longer than a spreadsheet "
                f"cell can hold ({MAX_CELL_CHARS:,} characters): is the file really a roster? "
                "Export it again as CSV"
            )


def too_wide(row: int, fields: int) -> str:
    return (
        f"row {row} has {fields:,} values, more than a spreadsheet can hold ({MAX_FIELDS:,}): "
        "is the file really a roster? Export it again as CSV"
    )


def _line_number(utf8: bytes, start: int) -> int:
    return utf8.count(b"\n", 0, start) + 1


def _fields(line: bytes, delimiter: str) -> int:
    """Fields of one line, trailing empty ones not counted; quoted delimiters not counted."""
    mark = delimiter.encode()
    line = line.rstrip(b" \t\r" + mark)
    if b'"' in line:
        line = _QUOTED.sub(b"", line)
    return line.count(mark) + 1 if line else 0


def _long_field(utf8: bytes, start: int, end: int, mark: bytes) -> int:
    """Where the first field of ``utf8[start:end]`` longer than a cell can hold starts, or -1;
    the delimiters are found a chunk at a time."""
    previous = start - 1
    for chunk_start in range(start, end, CHUNK):
        count = min(CHUNK, end - chunk_start)
        chunk = np.frombuffer(utf8, dtype=np.uint8, count=count, offset=chunk_start)
        marks = np.flatnonzero(chunk == mark[0]) + chunk_start
        if len(marks):
            gaps = np.diff(marks, prepend=previous) - 1
            over = np.flatnonzero(gaps > _MAX_CELL_BYTES)
            if len(over):
                return int(marks[over[0]] - gaps[over[0]])
            previous = int(marks[-1])
    return previous + 1 if end - previous - 1 > _MAX_CELL_BYTES else -1


def _long_lines(utf8: bytes, limit: int) -> list[tuple[int, int]]:
    """(start, end) of each line longer than ``limit`` bytes, newline excluded."""
    found: list[tuple[int, int]] = []
    line_start = 0
    for chunk_start in range(0, len(utf8), CHUNK):
        chunk = np.frombuffer(
            utf8, dtype=np.uint8, count=min(CHUNK, len(utf8) - chunk_start), offset=chunk_start
        )
        ends = np.flatnonzero(chunk == 10) + chunk_start
        if len(ends) == 0:
            continue
        starts = np.empty_like(ends)
        starts[0] = line_start
        starts[1:] = ends[:-1] + 1
        for index in np.flatnonzero(ends - starts > limit):
            found.append((int(starts[index]), int(ends[index])))
        line_start = int(ends[-1]) + 1
    if len(utf8) - line_start > limit:
        found.append((line_start, len(utf8)))
    return found
