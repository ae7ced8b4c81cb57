"""CSV bytes -> a raw grid of text cells, numbered like a spreadsheet.

Encoding is detected from the bytes: a byte-order mark (UTF-8, UTF-16 LE/BE) wins; otherwise
strict UTF-8; otherwise UTF-16 without a mark when NUL bytes sit in every other position; otherwise
Windows-1252. The delimiter (``,`` ``;`` or tab) is the one the header line uses most; a ``.tsv``
file is tab-separated unless its header line has no tab at all (a mislabelled CSV).

Row numbers count *records*, the way a spreadsheet program shows the file: the header is row 1 and
a quoted value spanning several physical lines is still one row, so later rows keep the number
Excel would show. Blank lines count as (empty) rows.

What parsing costs is bounded by the file's size (DESIGN.md section 11): the checks of
:mod:`bulk_provision.roster.csv_bounds` run on the bytes first (blank and comma-only lines at the
end dropped, a file of mostly empty lines refused, a line wider than Excel's 16,384 columns
refused); trailing empty fields (a header line ending in 60,000 commas) are dropped record by
record while parsing, before any grid is built; and a grid far wider than the fields the file
actually holds (one long row over thousands of short ones) is refused, naming the row.

A file that decodes but is clearly binary is refused as a whole: more than 1 byte in 20 of the
whole file is a control character other than tab, line feed and carriage return (compressed or
executable data runs at about 1 in 9; a roster with a stray ESC or NUL in a few cells is far
below). Otherwise control characters load like any text, so validation reports each bad cell
by row and column (``<Column>.control``).
"""

from __future__ import annotations

import codecs
import csv
import io

import numpy as np
import pandas as pd

from bulk_provision.errors import RosterError
from bulk_provision.roster.csv_bounds import (
    GRID_FLOOR,
    MAX_FIELDS,
    SPARSE_FACTOR,
    check_sparse,
    check_wide_lines,
    control_bytes,
    is_utf8,
    lf_line_ends,
    too_wide,
    without_empty_tail,
)

_DELIMITERS = (",", ";", "\t")
_NOT_TEXT = "does not look like a CSV text file: export it again as CSV (UTF-8) or use .xlsx"
# C0 control characters other than tab, newline, carriage return: never in a real roster.
_CONTROL_BYTES = bytes(c for c in range(32) if chr(c) not in "\t\n\r")
BINARY_SHARE = 20  # more than 1 byte in this many a control character: a binary file


def read_csv_grid(data: bytes, *, tab_separated: bool = False) -> pd.DataFrame:
    """Parse CSV bytes into an all-text DataFrame: columns 0..n-1, index = row number (from 1)."""
    _refuse_workbook_bytes(data)
    text_bytes, encoding = _to_utf8(data)
    sample = _header_line(text_bytes)
    delimiter = "\t" if tab_separated and "\t" in sample else _detect_delimiter(sample)
    text_bytes = lf_line_ends(text_bytes)
    text_bytes = without_empty_tail(text_bytes, delimiter)
    check_sparse(text_bytes, delimiter, sample)
    check_wide_lines(text_bytes, delimiter, sample)
    if _ragged_first_record(text_bytes, delimiter):
        grid = _read_with_csv_module(text_bytes.decode("utf-8"), delimiter)
        return _numbered(grid, encoding, delimiter)
    try:
        grid = pd.read_csv(
            io.BytesIO(text_bytes),
            sep=delimiter,
            header=None,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8",
            engine="c",
            quotechar='"',
        )
    except pd.errors.EmptyDataError as exc:
        raise RosterError("the roster has no header and no data rows: it is empty") from exc
    except pd.errors.ParserError:
        # Rows longer than the header (or a broken quote): the csv module copes with both.
        grid = _read_with_csv_module(text_bytes.decode("utf-8"), delimiter)
    return _numbered(grid, encoding, delimiter)


def _numbered(grid: pd.DataFrame, encoding: str, delimiter: str) -> pd.DataFrame:
    grid = grid.fillna("")
    grid.columns = pd.RangeIndex(grid.shape[1])
    grid.index = pd.RangeIndex(1, len(grid) + 1)
    grid.attrs["encoding"] = encoding
    grid.attrs["delimiter"] = delimiter
    return grid


def _refuse_workbook_bytes(data: bytes) -> None:
    if data.startswith(b"PK\x03\x04"):
        raise RosterError("this file is an Excel workbook, not CSV: rename it to .xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterError("this file is an old Excel (.xls) workbook, not CSV: rename it to .xls")


def _to_utf8(data: bytes) -> tuple[bytes, str]:
    """The file as UTF-8 bytes without a byte-order mark, and the encoding it was in."""
    if data.startswith(codecs.BOM_UTF8):
        return _checked(_decode(data[3:], "utf-8").encode("utf-8"), "utf-8"), "utf-8-sig"
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return _decode(data[2:], encoding).encode("utf-8"), encoding
    head = data[:4096]
    if b"\x00" in head and (utf16 := _looks_utf16(head)):  # ASCII in UTF-16 is valid UTF-8 too
        return _decode(data, utf16).encode("utf-8"), utf16
    if is_utf8(data):
        return _checked(data, "utf-8"), "utf-8"
    if b"\x00" in head:
        encoding = _utf16_without_bom(head)
        return _decode(data, encoding).encode("utf-8"), encoding
    return _checked(_decode(data, "cp1252").encode("utf-8"), "cp1252"), "cp1252"


def _looks_utf16(head: bytes) -> str | None:
    try:
        return _utf16_without_bom(head)
    except RosterError:
        return None


def _utf16_without_bom(head: bytes) -> str:
    odd_zeros = head[1::2].count(0)
    even_zeros = head[0::2].count(0)
    if odd_zeros > len(head) // 4 and even_zeros == 0:
        return "utf-16-le"
    if even_zeros > len(head) // 4 and odd_zeros == 0:
        return "utf-16-be"
    raise RosterError(f"the roster {_NOT_TEXT}")


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        if encoding != "cp1252":
            raise RosterError(f"the roster is not valid {encoding} text: {_NOT_TEXT}") from None
        # Five byte values are undefined in Windows-1252; Latin-1 maps every byte.
        text = data.decode("latin-1")
    return text


def _checked(utf8: bytes, encoding: str) -> bytes:
    """Refuse binary data that happened to decode (see the module docstring)."""
    controls = control_bytes(utf8, _CONTROL_BYTES)
    if controls * BINARY_SHARE > len(utf8):
        raise RosterError(f"the roster ({encoding}) {_NOT_TEXT}")
    return utf8


def _header_line(utf8: bytes) -> str:
    """The first non-blank line, for delimiter detection."""
    head = utf8[:65536].decode("utf-8", errors="replace")
    for line in head.splitlines():
        if line.strip(" \t\r\n\ufeff\xa0,;"):
            return line
    return ""


def _detect_delimiter(line: str) -> str:
    counts = {delimiter: line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _ragged_first_record(utf8: bytes, delimiter: str) -> bool:
    """True when the first record ends in empty fields or is wider than Excel allows: pandas
    would build a column for each of them over every row, so the csv module reads the file."""
    end = utf8.find(b"\n", 0, 1 << 20)
    line = utf8[: end if end >= 0 else 1 << 20].decode("utf-8", errors="replace").rstrip("\r")
    return line.endswith(delimiter) or line.count(delimiter) >= MAX_FIELDS


def _read_with_csv_module(text: str, delimiter: str) -> pd.DataFrame:
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # a 1 MB cell is fine
    records: list[list[str]] = []
    fields = width = 0
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            while record and not record[-1].strip():
                record.pop()  # trailing empty fields: dropped before any grid exists
            if len(record) > MAX_FIELDS:
                raise RosterError(too_wide(len(records) + 1, len(record)))
            records.append(record)
            fields += len(record)
            width = max(width, len(record))
    except csv.Error as exc:
        raise RosterError(f"the roster is not valid CSV ({exc}): export it again") from exc
    if width * len(records) > max(GRID_FLOOR, SPARSE_FACTOR * fields):
        row = next(number for number, record in enumerate(records, 1) if len(record) == width)
        raise RosterError(
            f"row {row} has {width:,} values but the roster holds only {fields:,} in all "
            f"({len(records):,} rows): remove the stray values at the end of row {row} (or "
            "export the sheet again) and try again"
        )
    columns: dict[int, np.ndarray] = {}
    for position in range(width):
        cells = [record[position] if position < len(record) else "" for record in records]
        columns[position] = np.array(cells, dtype=object)
    return pd.DataFrame(columns, dtype=object)
