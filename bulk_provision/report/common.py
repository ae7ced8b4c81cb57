"""Helpers shared by every workbook writer: text-only cells, styles, atomic saves.

The one rule for writing text (used by every sheet of every workbook): a string is written as a
string cell (``t="s"`` or an inline string), never a formula (``=1+2``) nor an error
(``#N/A``); ``_xHHHH_``, which Excel reads as one escaped character, is itself escaped
(``_x005F_xHHHH_``) so Excel shows the very text of the roster; characters XML 1.0 cannot hold
are shown as U+FFFD. :func:`text_cell` applies it to an openpyxl cell, :func:`cell_text` gives the
text to put in the XML for writers that stream their own (the Results sheet).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zipfile import ZipFile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# Characters XML 1.0 cannot hold (openpyxl refuses them); shown as U+FFFD instead.
ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
REPLACEMENT = "\ufffd"
# Excel reads "_x003D_" in a cell as the one character "="; "_x005F_" is an escaped "_".
OOXML_ESCAPE = re.compile("_x[0-9A-Fa-f]{4}_")
# Text openpyxl would take for something else: a formula ("="), an error ("#N/A"), or which must
# be escaped first. Anything else may be handed to openpyxl as a plain str (the fast path).
_NOT_PLAIN = re.compile(r"^[=#]|_x[0-9A-Fa-f]{4}_|[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return ILLEGAL_XML.sub(REPLACEMENT, text)


def cell_text(text: str) -> str:
    """``text`` as it must be stored in a cell for Excel to show exactly ``text``."""
    if "_x" in text:
        text = OOXML_ESCAPE.sub(lambda m: "_x005F" + m.group(), text)
    return xml_safe(text)


_ESCAPED = re.compile("_x005[Ff](_x[0-9A-Fa-f]{4}_)")


def read_text(value: object) -> object:
    """A cell value read back with openpyxl (which leaves the escapes alone) as the text that
    was written: the reverse of :func:`cell_text` for ``_xHHHH_``."""
    if isinstance(value, str) and "_x" in value:
        return _ESCAPED.sub(r"\1", value)
    return value


def is_plain(text: str) -> bool:
    """True when openpyxl writes ``text`` as exactly this text without :func:`text_cell`."""
    return _NOT_PLAIN.search(text) is None


HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BAD_FILL = PatternFill("solid", fgColor="F8CBAD")
WARN_FILL = PatternFill("solid", fgColor="FFF2CC")


def text_cell(
    ws: WriteOnlyWorksheet,
    value: object,
    *,
    fill: PatternFill | None = None,
    font: Font | None = None,
) -> WriteOnlyCell:
    """A write-only cell holding ``value`` as a value, never a formula nor an error.

    openpyxl turns any string starting with ``=`` into a formula and ``#N/A`` into an error
    cell; forcing the data type keeps a roster cell such as ``=HYPERLINK(...)`` exactly as typed,
    with no apostrophe added. ``_xHHHH_`` is escaped (see the module docstring).
    """
    if isinstance(value, str):
        value = cell_text(value)
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if fill is not None:
        cell.fill = fill
    if font is not None:
        cell.font = font
    return cell


def header_row(ws: WriteOnlyWorksheet, names: Iterable[str]) -> list[WriteOnlyCell]:
    return [text_cell(ws, name, fill=HEADER_FILL, font=HEADER_FONT) for name in names]


def width_for(values: Iterable[Any], *, minimum: int = 6, maximum: int = 60) -> float:
    """A column width fitting the longest of ``values`` (a sample is enough)."""
    longest = max((len(str(v)) for v in values), default=0)
    return float(min(max(longest + 2, minimum), maximum))


TEMP_PREFIX_CHARS = 40  # of the final name: any legal name (255 bytes) gets a legal temp name


def temp_beside(path: Path) -> Path:
    """A new, empty, owner-only (0600, from ``mkstemp``) temporary file in ``path``'s folder,
    to be renamed over ``path`` once complete: workbooks hold personal data.

    Its name starts with at most ``TEMP_PREFIX_CHARS`` characters of ``path``'s (at most 4
    bytes each): ``.{name}.XXXXXXXX.tmp`` for a 250-byte name would be longer than any file
    system allows."""
    prefix = f".{path.name[:TEMP_PREFIX_CHARS]}."
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    return Path(name)


def atomic_save(workbook: Workbook, path: Path) -> None:
    """Save ``workbook`` to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    try:
        tmp = temp_beside(path)
    except BaseException:
        discard(workbook)
        raise
    try:
        workbook.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        discard(workbook)
        raise


def discard(workbook: Workbook) -> None:
    """Close the sheets of a write-only workbook that could not be saved.

    Left open, openpyxl's row writers fail when they are garbage collected and print "Exception
    ignored ... Traceback" on stderr after the clear message the user was given.
    """
    for sheet in workbook.worksheets:
        if isinstance(sheet, WriteOnlyWorksheet) and not sheet.closed:
            try:
                sheet.close()
            except Exception:  # noqa: BLE001 - the save already failed; that error is reported
                pass


SPLICE_CHUNK = 1 << 20  # characters of row XML gathered before each write


def splice_rows(sheet_xml: str, rows: Iterable[str], dst: ZipFile, part: str,
                tail_of: Callable[[str, int], str] | None = None) -> int:
    """Write the sheet part ``part`` of ``dst``: ``sheet_xml`` (a skeleton openpyxl wrote, with
    an empty sheetData) with ``rows`` (``<row>`` XML) streamed into it in 1 MB writes, so that
    memory does not grow with the rows. ``tail_of(tail, count)`` may rewrite what follows the rows
    once their number is known (a filter's range). Returns how many rows were written."""
    head, tail = sheet_xml.split("</sheetData>", 1)
    count = 0
    with dst.open(part, "w") as out:
        out.write(head.encode())
        buffer: list[str] = []
        size = 0
        for row in rows:
            count += 1
            buffer.append(row)
            size += len(row)
            if size > SPLICE_CHUNK:
                out.write("".join(buffer).encode())
                buffer, size = [], 0
        out.write("".join(buffer).encode())
        out.write(("</sheetData>" + (tail_of(tail, count) if tail_of else tail)).encode())
    return count
