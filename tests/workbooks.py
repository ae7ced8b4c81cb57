"""Reading back what the tool wrote: one sheet of a workbook as a list of row dicts."""

from __future__ import annotations

from pathlib import Path

import openpyxl


def sheet_rows(path: Path, sheet: str = "Results") -> list[dict[str, object]]:
    """Every row under the header of ``sheet``, keyed by the header's text."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book[sheet].iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:]]
