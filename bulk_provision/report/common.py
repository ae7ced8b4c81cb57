"""Helpers shared by every workbook writer: text-only cells, styles, atomic saves."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# Characters XML 1.0 cannot hold (openpyxl refuses them); shown as U+FFFD instead.
ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xml_safe(text: str) -> str:
    return ILLEGAL_XML.sub("\ufffd", text)


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
    """A write-only cell holding ``value`` as a value, never a formula.

    openpyxl turns any string starting with ``=`` into a formula; forcing the data type keeps a
    roster cell such as ``=HYPERLINK(...)`` exactly as typed, with no apostrophe added.
    """
    if isinstance(value, str):
        value = xml_safe(value)
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


def atomic_save(workbook: Workbook, path: Path) -> None:
    """Save ``workbook`` to ``path`` via a temporary file in the same folder, then rename.

    The file is owner-only (0600, from ``mkstemp``): workbooks hold personal data.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except BaseException:
        discard(workbook)
        raise
    os.close(fd)
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
