"""Excel bytes (.xlsx, .xlsm, .xls) -> a raw grid of text cells, through python-calamine.

Safety checks run on the bytes before calamine sees them: a password-protected workbook (an OLE
container holding an ``EncryptedPackage`` stream) and a zip bomb (declared sizes and compression
ratios, then a bounded, CRC-checked inflate) are refused with one clear line. Before calamine
reads a sheet of an .xlsx/.xlsm, :func:`check_sheet_extent` streams its XML once to find the cells
actually present: calamine builds the whole used range densely (every empty cell of it), so a
sheet whose used range is far larger than what it holds (one stray cell at XFD1048576 beside a
roster in A1:D2) is refused before that cost is paid (DESIGN.md section 11, docs/operations.md).

Cells come back as text. A cell Excel stored as a number, date or TRUE/FALSE is turned into the
text Excel shows for it and reported as a warning: ``(row, position, message)``. Formulas yield
their cached values; a merged range keeps its value in its top-left cell only (the other cells
of the range are empty), exactly as Excel stores it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from array import array
from collections.abc import Mapping
from decimal import Decimal
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import python_calamine as calamine
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from bulk_provision.errors import Hint, RosterError
from bulk_provision.roster.shared_strings import check_shared_text, shared_sizes

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURE = b"PK\x03\x04"
MAX_UNCOMPRESSED = 800 * 1024 * 1024  # a 1,000,000-row roster stays well below this
MAX_RATIO = 100  # for members over RATIO_FLOOR bytes; real sheets compress 5-30x
RATIO_FLOOR = 50 * 1024 * 1024
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_PASSWORD = (
    "the workbook is password-protected: open it in Excel, remove the password and save again"
)
_NOT_EXCEL = (
    "is not a valid Excel workbook (was it saved as .xlsx? open it in Excel and save it again)"
)

MAX_COLUMNS = 16_384  # Excel's own limit (column XFD)
MAX_ROWS = 1_048_576  # Excel's own limit
# calamine keeps every cell of the used range (about 32 bytes each, then a Python pointer): the
# range may hold at most this many cells, or SPARSE_FACTOR times the cells actually present.
RANGE_FLOOR = 2_000_000
SPARSE_FACTOR = 8
_SCAN_CHUNK = 4 * 1024 * 1024
# an r="..." attribute: either quote, spaces around "=" (XML allows them; calamine reads them)
_R = rb"\br\s*=\s*[\"']"
_PREFIXED = rb"<(?:[A-Za-z_][\w.-]*:)?"
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_CELL_REF = re.compile(_PREFIXED + rb"c\s[^>]*?" + _R + rb"([A-Za-z]{1,4})([0-9]{1,9})[\"']")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_ROW_REF = re.compile(_PREFIXED + rb"row\s[^>]*?" + _R + rb"([0-9]{1,9})[\"']")
_PLAIN_COLUMN = re.compile(rb"<c\s[^>]*?" + _R + rb"([A-Za-z]{1,4})[0-9]{1,9}[\"']")
_PLAIN_CELL_ROW = re.compile(rb"<c\s[^>]*?" + _R + rb"[A-Za-z]{1,4}([0-9]{1,9})[\"']")
_PLAIN_CELL_TAG = re.compile(rb"<c[\s/>]")
_PLAIN_ROW_TAG = re.compile(rb"<row[\s/>]")
_PLAIN_ROW_REF = re.compile(rb"<row\s[^>]*?" + _R + rb"([0-9]{1,9})[\"']")

RawWarning = tuple[int, int, str]  # spreadsheet row, 0-based column position, message
Padded = Mapping[tuple[int, int], int]  # (0-based row, 0-based column) -> digits shown


def check_workbook_bytes(data: bytes, suffix: str) -> array[int]:
    """Refuse encrypted workbooks, zip bombs, bytes that are no workbook at all and shared
    strings longer than a cell (calamine loads them all when it opens the file); the size of
    each shared string, for :func:`check_sheet_extent`."""
    if data.startswith(OLE_SIGNATURE):
        if _ENCRYPTED in data:
            raise RosterError(_PASSWORD)
        if suffix != ".xls":
            raise RosterError(f"the {suffix} file is an old Excel (.xls) workbook: rename it")
        return array("Q")
    if not data.startswith(ZIP_SIGNATURE):
        raise RosterError(f"the {suffix} file {_NOT_EXCEL}")
    _check_zip(data, suffix)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return shared_sizes(archive)
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise RosterError(f"the {suffix} file {_NOT_EXCEL}") from exc


def _check_zip(data: bytes, suffix: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            for member in members:
                ratio = member.file_size / max(member.compress_size, 1)
                if member.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
                    raise RosterError(_bomb(f"{member.filename} inflates {ratio:.0f}x"))
            if declared > MAX_UNCOMPRESSED:
                raise RosterError(_bomb(f"it would unpack to {declared // 2**20} MB"))
            for member in members:
                _inflate_bounded(archive, member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise RosterError(f"the {suffix} file {_NOT_EXCEL}") from exc
    except NotImplementedError as exc:  # an unsupported compression method
        raise RosterError(f"the {suffix} file {_NOT_EXCEL}") from exc


def _inflate_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Inflate one member; zipfile stops at the declared size and checks the CRC at the end,
    so a member that lies about its size is reported as corrupt instead of filling memory."""
    with archive.open(member) as stream:
        while stream.read(4 * 1024 * 1024):
            pass


def _bomb(detail: str) -> str:
    return f"the workbook looks like a zip bomb ({detail}): refusing to open it"


def open_workbook(data: bytes, suffix: str) -> calamine.CalamineWorkbook:
    try:
        return calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError as exc:
        raise RosterError(_PASSWORD) from exc
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError, ValueError) as exc:
        raise RosterError(f"the {suffix} file {_NOT_EXCEL}") from exc


def choose_sheet(workbook: calamine.CalamineWorkbook, sheet: str | None) -> str:
    """The sheet to read: ``sheet`` if given (exact name, else case-insensitive), otherwise the
    first visible worksheet. Hidden sheets are only read when asked for by name."""
    names = list(workbook.sheet_names)
    if sheet is not None:
        if sheet in names:
            return sheet
        folded = [name for name in names if name.casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        listing = ", ".join(f'"{name}"' for name in names)
        raise RosterError(f'the workbook has no sheet "{sheet}"; its sheets are: {listing}')
    for meta in workbook.sheets_metadata:
        visible = meta.visible == calamine.SheetVisibleEnum.Visible
        if visible and meta.typ == calamine.SheetTypeEnum.WorkSheet:
            return str(meta.name)
    raise RosterError("the workbook has no visible worksheet", hint=Hint.UNHIDE_SHEET)


def read_sheet_grid(
    workbook: calamine.CalamineWorkbook, name: str, padded: Padded | None = None
) -> tuple[pd.DataFrame, list[RawWarning]]:
    """The sheet as text cells (columns 0..n-1, index = spreadsheet row) and its warnings.

    ``padded`` (from :func:`zero_padded_cells`) gives the width of cells shown zero-padded."""
    try:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError, ValueError) as exc:
        raise RosterError(
            f'sheet "{name}" cannot be read ({exc}): open it in Excel and save it again'
        ) from exc
    table = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
    table[:] = rows  # one C-level copy; cells stay Python objects
    warnings: list[RawWarning] = []
    for position in range(table.shape[1]):
        _to_text(table[:, position], position, warnings, padded or {})
    grid = pd.DataFrame(table, index=pd.RangeIndex(1, len(rows) + 1), dtype=object)
    warnings.sort()
    return grid, warnings


def _to_text(column: np.ndarray, position: int, warnings: list[RawWarning], padded: Padded) -> None:
    """Turn the non-text cells of one column into text, in place, noting a warning for each."""
    if set(map(type, column)) <= {str}:  # the usual case: no Python loop per cell
        return
    for index in [i for i, value in enumerate(column) if type(value) is not str]:
        text, message = cell_text(column[index], padded.get((index, position), 0))
        column[index] = text
        if message and index > 0:  # a number in the header row needs no warning
            warnings.append((index + 1, position, message))


NUMBER_CELL = "Excel stored this cell as a number ("  # how a number cell's warning starts


def cell_text(value: object, width: int = 0) -> tuple[str, str]:
    """The text for a non-string cell, and the warning to give about it ("" for none).

    ``width`` > 0: the cell's number format pads with zeros ("00000"), so 123 reads "00123"."""
    if value is None:
        return "", ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
        return text, f"Excel stored this cell as TRUE/FALSE; it was read as the text {text}"
    if isinstance(value, int | float):
        text = shown = number_text(value)
        if width and text.isdigit():
            text = text.zfill(width)
            shown = f"{shown} shown as {text}"
        return text, (
            f"{NUMBER_CELL}{shown}); it was read as the text {text} — "
            "format the column as Text in Excel to be sure"
        )
    if isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    elif isinstance(value, dt.timedelta):
        text = str(value)
    else:
        return str(value), ""
    return text, (
        f"Excel stored this cell as a date or time; it was read as the text {text} — "
        "if it is not a date, format the column as Text in Excel and type it again"
    )


def number_text(value: float) -> str:
    """Digits for integer values (120000, never 120000.0 or 1.2E+5); plain decimals otherwise."""
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


# --- Zero-padded number formats ("00000") -------------------------------------------------------
# calamine gives values, not formats. When the workbook defines a zero-padded format, the sheet's
# XML is streamed once to find the numeric cells using it; otherwise only styles.xml is parsed.

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REF = re.compile(r"([A-Z]+)([0-9]+)")
_MAX_STYLE_DEPTH = 32  # a real styles.xml nests 5 deep


def zero_padded_cells(data: bytes, sheet: str) -> dict[tuple[int, int], int]:
    """(row, column) -> width of each numeric cell of ``sheet`` formatted like ``00000``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            widths = _padded_styles(archive)
            part = _sheet_part(archive, sheet) if widths else None
            return _padded_in_sheet(archive, part, widths) if part else {}
    except (KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError, DefusedXmlException):
        return {}  # formats are a nicety: calamine has already read the values


def check_sheet_extent(data: bytes, sheet: str, shared: array[int]) -> None:
    """Refuse a sheet whose used range calamine would have to build is out of proportion to the
    cells it holds, or past Excel's own limits, or whose cells would copy far more shared text
    than the workbook holds (:mod:`bulk_provision.roster.shared_strings`). Streamed passes over
    the XML (bounded by the inflated size :func:`check_workbook_bytes` allowed), nothing
    materialised."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return  # calamine will say the sheet is missing or broken
            rows, columns, present = _extent(archive, part)
            _check_range(sheet, rows, columns, present)
            check_shared_text(archive, sheet, part, present, shared)
    except (KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError, DefusedXmlException):
        return  # the workbook's own structure is calamine's to judge


def _check_range(sheet: str, rows: int, columns: int, present: int) -> None:
    if columns > MAX_COLUMNS or rows > MAX_ROWS:
        raise RosterError(
            f'sheet "{sheet}" reaches past Excel\'s last cell (XFD1048576): open it in Excel, '
            "delete the rows and columns after the roster, and save it again"
        )
    budget = max(RANGE_FLOOR, SPARSE_FACTOR * present)
    if rows * columns > budget:
        corner = f"{_column_letters(columns)}{rows}"
        raise RosterError(
            f'sheet "{sheet}" holds {present:,} cells but its used range reaches {corner} '
            f"({rows * columns:,} cells): a stray cell far from the roster. Open it in Excel, "
            "delete the rows and columns after the roster (Ctrl+End shows the last cell), and "
            "save it again"
        )


def _extent(archive: zipfile.ZipFile, part: str) -> tuple[int, int, int]:
    """(last row, last column, cells present) of a sheet's XML, 1-based, in one streamed pass.

    Rows and cells without an ``r`` attribute follow the previous one; they are counted as if
    each could extend the range by one (an overestimate only for unusual writers)."""
    last_row = last_column = cells = rows = widest = 0
    unnamed_cells = unnamed_rows = 0
    letters: set[bytes] = set()
    tail = b""
    with archive.open(part) as stream:
        while True:
            chunk = stream.read(_SCAN_CHUNK)
            text = tail + chunk
            cut = text.rfind(b">") + 1 if chunk else len(text)
            if chunk and cut == 0:
                cut = max(len(text) - 4096, 0)  # a 4 MB text node: no tag to keep whole
            body, tail = text[:cut], text[cut:]
            plain = b":c" not in body and b":row" not in body  # no namespace prefixes
            if plain:  # the common case, at C speed: counts and anchored patterns
                found_cells = len(_PLAIN_CELL_TAG.findall(body))
                columns = _PLAIN_COLUMN.findall(body)
                cell_rows = _PLAIN_CELL_ROW.findall(body)
            else:
                found_cells = len(_CELL_TAG.findall(body))
                refs = _CELL_REF.findall(body)
                columns, cell_rows = [c for c, _ in refs], [r for _, r in refs]
            cells += found_cells
            unnamed_cells += found_cells - len(cell_rows)
            if found_cells > len(cell_rows):  # cells placed by order: the widest row bounds them
                widest = max(widest, *(len(_CELL_TAG.findall(one)) for one in _ROW_TAG.split(body)))
            letters.update(columns)
            if cell_rows:
                last_row = max(last_row, max(map(int, cell_rows)))
            if plain:
                row_refs = _PLAIN_ROW_REF.findall(body)
                found_rows = len(_PLAIN_ROW_TAG.findall(body))
            else:
                row_refs = _ROW_REF.findall(body)
                found_rows = len(_ROW_TAG.findall(body))
            rows += found_rows
            unnamed_rows += found_rows - len(row_refs)
            if row_refs:
                last_row = max(last_row, max(map(int, row_refs)))
            if not chunk:
                break
    if letters:
        last_column = max(_column_index(column.decode().upper()) + 1 for column in letters)
    return last_row + unnamed_rows, last_column + (widest if unnamed_cells else 0), cells


def _column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _padded_styles(archive: zipfile.ZipFile) -> dict[str, int]:
    """Cell style index (the ``s`` attribute) -> width, for zero-padded number formats.

    Streamed (styles.xml can be made deep or huge): only <numFmt> and the <xf> directly under
    <cellXfs> are looked at, each element is dropped once seen, and a file nested deeper than
    any real one is treated as having no formats (they are a nicety)."""
    formats: dict[str, int] = {}
    xf_formats: list[str] = []
    depth = 0
    in_cell_xfs = False
    with archive.open("xl/styles.xml") as stream:
        for event, element in SafeElementTree.iterparse(stream, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth > _MAX_STYLE_DEPTH:
                    return {}
                in_cell_xfs = in_cell_xfs or element.tag == f"{_MAIN}cellXfs"
                continue
            depth -= 1
            if element.tag == f"{_MAIN}numFmt":
                code = element.get("formatCode", "").split(";")[0]
                if re.fullmatch(r"00+", code):
                    formats[element.get("numFmtId", "")] = len(code)
            elif element.tag == f"{_MAIN}xf" and in_cell_xfs:
                xf_formats.append(element.get("numFmtId", ""))
            elif element.tag == f"{_MAIN}cellXfs":
                in_cell_xfs = False
            element.clear()
    return {
        str(index): formats[numfmt] for index, numfmt in enumerate(xf_formats) if numfmt in formats
    }


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    workbook = SafeElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = next(
        (s.get(f"{_REL}id") for s in workbook.iter(f"{_MAIN}sheet") if s.get("name") == sheet),
        None,
    )
    rels = SafeElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.iter(f"{_PACKAGE_REL}Relationship"):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _padded_in_sheet(
    archive: zipfile.ZipFile, part: str, widths: dict[str, int]
) -> dict[tuple[int, int], int]:
    found: dict[tuple[int, int], int] = {}
    with archive.open(part) as stream:
        for _, element in SafeElementTree.iterparse(stream):
            if element.tag == f"{_MAIN}c":
                style = element.get("s")
                if style in widths and element.get("t", "n") == "n":
                    match = _REF.fullmatch(element.get("r", ""))
                    if match:
                        found[(int(match[2]) - 1, _column_index(match[1]))] = widths[style]
            elif element.tag == f"{_MAIN}row":
                element.clear()  # keeps memory flat on big sheets
    return found


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1
