"""The ``export`` workbook: Glance's users as a roster the reader takes back as it is.

Sheet ``Users`` (first, so ``run`` reads it) has the template's columns in the template's order,
then ``Suspended`` (yes/no, for reading: the roster reader carries it as an extra column).
``UserPW`` is empty (Glance never returns passwords), ``AudioProvider`` and ``Action`` are empty
(an empty cell leaves Glance's value as it is). Every cell is text: IDs keep their leading zeros,
and a value starting with ``=`` stays text, never a formula. Users Glance lists without a
PartnerUserID cannot be addressed through PAPI; they go on the second sheet, ``No PartnerUserID``
(only its header when there are none), which ``run`` never reads. The file is owner-only and
written atomically.

Rows are streamed into the sheet's XML at save time (as the results workbook does, P5), so the
file is written while the ShowUsers pages arrive (P9): 100,000 users cost about one second.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bulk_provision.columns import CANONICAL_COLUMNS
from bulk_provision.glance.models import GlanceUser
from bulk_provision.report.common import discard, header_row, splice_rows, temp_beside

SUSPENDED = "Suspended"
COLUMNS = (*CANONICAL_COLUMNS, SUSPENDED)
WIDTHS = {"PartnerUserID": 16, "UserAddress": 36, "UserEmail": 32, "UserFirst": 16,
          "UserLast": 16, "UserRole": 16}


def user_cells(user: GlanceUser) -> dict[str, str]:
    """The roster cells of one user (columns not listed are empty)."""
    return {
        "PartnerUserID": user.partner_user_id,
        "UserAddress": user.user_address,
        "UserFirst": user.user_first,
        "UserLast": user.user_last,
        "UserEmail": user.user_email,
        "UserRole": user.user_role,
        SUSPENDED: "yes" if user.suspended else "no",
    }


def write_export(
    path: Path, users: Iterable[GlanceUser], without_key: Iterable[GlanceUser] = ()
) -> int:
    """Write the export workbook to ``path`` atomically (owner-only, 0600); returns the number
    of users on the Users sheet.

    ``users`` is consumed while the file is written (a stream of ShowUsers pages is fine);
    ``without_key`` only after it, so it may be filled while ``users`` is read. Any error,
    also one raised by ``users``, leaves no file (and an older one as it was).
    """
    workbook = Workbook(write_only=True)
    sheets = [_sheet(workbook, "Users"), _sheet(workbook, "No PartnerUserID")]
    written = 0
    made: list[Path] = []
    path = Path(path)
    try:
        skeleton, final = _temp_beside(path, made), _temp_beside(path, made)
        workbook.save(skeleton)  # names the sheets' parts
        parts = {sheets[0].path.lstrip("/"): _rows(users, 2),
                 sheets[1].path.lstrip("/"): _rows(without_key, 2)}
        first = sheets[0].path.lstrip("/")
        with ZipFile(skeleton) as src, ZipFile(final, "w", ZIP_DEFLATED, compresslevel=1) as dst:
            for info in src.infolist():
                if info.filename in parts:
                    rows = _splice(src.read(info).decode(), parts[info.filename], dst,
                                   info.filename)
                    written = rows if info.filename == first else written
                else:
                    dst.writestr(info, src.read(info))
        os.replace(final, path)
    except BaseException:
        discard(workbook)
        raise
    finally:
        for temp in made:
            temp.unlink(missing_ok=True)
    return written


def _sheet(workbook: Workbook, title: str) -> WriteOnlyWorksheet:
    """A sheet with the header row; its rows are spliced into its XML at save time."""
    ws = workbook.create_sheet(title)
    for index, name in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = WIDTHS.get(name, 12)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = _FILTER_PLACEHOLDER  # set to the rows written, once they are known
    ws.append(header_row(ws, COLUMNS))
    return ws


_FILTER_PLACEHOLDER = "A1:A1"
_MAX_CELL = 32767  # Excel's limit on the characters in one cell
# Anything needing more than the plain <t>value</t>: XML's special and illegal characters, the
# "_x0041_" escapes Excel would decode, and spaces at either end.
_NEEDS_CARE = re.compile(r"[&<>\r_\x00-\x08\x0b\x0c\x0e-\x1f]|^\s|\s$")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_OOXML_ESCAPE = re.compile("_x[0-9A-Fa-f]{4}_")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _text(value: str) -> str:
    """``<t>`` holding ``value`` exactly as Excel will show it (the plain case fast: P9)."""
    value = value[:_MAX_CELL]
    if not _NEEDS_CARE.search(value):
        return f"<t>{value}</t>"
    value = _ILLEGAL_XML.sub("\ufffd", value)
    value = _OOXML_ESCAPE.sub(lambda m: "_x005F" + m.group(), value)
    value = re.sub(r"[&<>\r]", lambda m: _ENTITIES[m.group()], value)
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f"<t{space}>{value}</t>"


def _temp_beside(path: Path, made: list[Path]) -> Path:
    """A new owner-only (0600) temporary file beside ``path``, added to ``made``."""
    name = temp_beside(path)
    made.append(name)
    return name


def _rows(users: Iterable[GlanceUser], start: int) -> Iterator[str]:
    """The <row> elements of the users, numbered from ``start``."""
    letters = [get_column_letter(i) for i in range(1, len(COLUMNS) + 1)]
    for number, user in enumerate(users, start=start):
        cells = user_cells(user)
        parts = [f'<row r="{number}">']
        for letter, name in zip(letters, COLUMNS, strict=True):
            value = cells.get(name)
            if value:
                parts.append(f'<c r="{letter}{number}" t="inlineStr"><is>{_text(value)}</is></c>')
        parts.append("</row>")
        yield "".join(parts)


def _splice(sheet_xml: str, rows: Iterator[str], dst: ZipFile, part: str) -> int:
    """The sheet with ``rows`` inside its sheetData, its filter covering them all."""
    def with_filter(tail: str, count: int) -> str:
        ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"
        return tail.replace(f'ref="{_FILTER_PLACEHOLDER}"', f'ref="{ref}"')

    return splice_rows(sheet_xml, rows, dst, part, with_filter)
