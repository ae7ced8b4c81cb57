"""Hostile roster files for tests: workbooks whose parts are rewritten after a real writer made
them, so the shape is exact and the rest of the file is what Excel would read."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import xlsxwriter


def rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    """Rewrite one member of the workbook at ``path`` in place."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[part] = change(parts[part])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def shared_text_xlsx(path: Path, header: list[str], text: str, cells: int) -> Path:
    """A roster whose last column's cells all name one shared string, which is then ``text``
    (xlsxwriter itself refuses strings longer than a cell can hold)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Staff")
    sheet.write_row(0, 0, [*header, "Notes"])
    for row in range(1, cells + 1):
        sheet.write_row(row, 0, [str(row), f"u{row}.x.glance.net", *([""] * (len(header) - 2)),
                                 "LONGTEXT"])
    book.close()
    return rewrite_part(path, "xl/sharedStrings.xml",
                        lambda xml: xml.replace(b"LONGTEXT", text.encode()))


def deep_styles(path: Path, depth: int) -> Path:
    """Nest ``depth`` elements inside the workbook's styles.xml."""
    return rewrite_part(path, "xl/styles.xml", lambda xml: xml.replace(
        b"</styleSheet>", b"<x>" * depth + b"</x>" * depth + b"</styleSheet>"))
