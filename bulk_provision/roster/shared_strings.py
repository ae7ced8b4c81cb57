"""What a workbook's shared strings cost to read, checked before calamine reads them (DESIGN.md
section 11, docs/operations.md "What an input may cost").

An .xlsx keeps each distinct text once, in ``xl/sharedStrings.xml``, and a cell refers to it by
number; calamine then gives every such cell its own copy of the text. So a 100 KB workbook with
one 40 MB string named by 5,000 cells asks for 200 GB. Two rules, on one streamed pass of each
XML part (nothing materialised but one byte count per distinct string):

* a shared string longer than a spreadsheet cell can hold (32,767 characters) is refused;
* the text the sheet's cells would copy (the sum, over the cells that refer to a shared
  string, of its length) may be at most :data:`TEXT_FLOOR` or twice the sheet's own XML, which
  holds for every roster a spreadsheet program writes.

The exact sum is counted only when the cheap bound (cells x longest string) is over the budget.
"""

from __future__ import annotations

import re
import zipfile
from array import array

from bulk_provision.errors import RosterError
from bulk_provision.roster.csv_bounds import MAX_CELL_CHARS

TEXT_FLOOR = 32 * 1024 * 1024
# UTF-8 takes up to 4 bytes a character and rich text adds its run markup (about 150 bytes a
# run): an <si> of more bytes than this holds more text than a cell can.
MAX_SHARED_BYTES = 1024 * 1024
_CHUNK = 4 * 1024 * 1024
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_SI = re.compile(rb"<(/?)" + _PREFIX + rb"si(/?)[\s>/]")
_CELL = re.compile(rb"<" + _PREFIX + rb"c\b([^>]*[^/>])?>(.*?)</" + _PREFIX + rb"c>", re.DOTALL)
_CELL_CLOSE = re.compile(rb"</" + _PREFIX + rb"c>")
_SHARED_TYPE = re.compile(rb'\bt\s*=\s*["\']s["\']')
_VALUE = re.compile(rb"<" + _PREFIX + rb"v>\s*([0-9]{1,10})\s*</")


def shared_sizes(archive: zipfile.ZipFile) -> array[int]:
    """Bytes of each shared string (before calamine loads them all when it opens the workbook);
    RosterError when one holds more than a cell can."""
    sizes = _shared_sizes(archive)
    if sizes and max(sizes) > MAX_SHARED_BYTES:
        raise RosterError(
            f"the workbook has a cell with more text than a spreadsheet cell can hold "
            f"({MAX_CELL_CHARS:,} characters): is the file really a roster? Open it in Excel, "
            "shorten that cell (or save the sheet as CSV) and try again"
        )
    return sizes


def check_shared_text(
    archive: zipfile.ZipFile, sheet: str, part: str, cells: int, sizes: array[int]
) -> None:
    """Refuse a sheet whose cells would copy far more shared text than the sheet holds."""
    if not sizes:
        return
    longest = max(sizes)
    budget = max(TEXT_FLOOR, 2 * archive.getinfo(part).file_size)
    if cells * longest <= budget:
        return
    copied = _referenced_bytes(archive, part, sizes)
    if copied > budget:
        raise RosterError(
            f'sheet "{sheet}" repeats long texts in many cells: reading it would take about '
            f"{copied / 2**20:,.0f} MB of memory. Is the file really a roster? Open it in Excel, "
            "remove the long repeated cells (or save the sheet as CSV) and try again"
        )


def _shared_sizes(archive: zipfile.ZipFile) -> array[int]:
    """Bytes of each <si> element of every shared-strings part, in order."""
    sizes: array[int] = array("Q")
    for member in archive.infolist():
        if member.filename.lower().endswith("sharedstrings.xml"):
            sizes.extend(_si_sizes(archive, member))
    return sizes


def _si_sizes(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> array[int]:
    sizes: array[int] = array("Q")
    opened_at = -1
    offset = 0  # of ``text`` in the part
    tail = b""
    with archive.open(member) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            text = tail + chunk
            cut = _whole_tags(text) if chunk else len(text)
            for match in _SI.finditer(text, 0, cut):
                closing, empty = match.group(1), match.group(2)
                if empty:
                    sizes.append(0)
                elif not closing:
                    opened_at = offset + match.start()
                elif opened_at >= 0:
                    sizes.append(offset + match.end() - opened_at)
                    opened_at = -1
            offset += cut
            tail = text[cut:]
            if opened_at >= 0 and offset - opened_at > MAX_SHARED_BYTES:
                sizes.append(offset - opened_at)  # too long already: no need to see its end
                return sizes
            if not chunk:
                return sizes


def _whole_tags(text: bytes) -> int:
    """Where to cut ``text`` so that no tag is split: before a last tag that has not ended (a
    tag name is what matters, so a very long unfinished tag is cut anyway)."""
    last = text.rfind(b"<")
    if last < 0 or text.find(b">", last) >= 0 or len(text) - last > 1024:
        return len(text)
    return last


def _referenced_bytes(archive: zipfile.ZipFile, part: str, sizes: array[int]) -> int:
    """The sum of the sizes of the shared strings the sheet's cells refer to, streamed with
    whole cells kept together across chunks."""
    total = 0
    tail = b""
    with archive.open(part) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            text = tail + chunk
            ends = [match.end() for match in _CELL_CLOSE.finditer(text, max(0, len(text) - _CHUNK))]
            if not chunk or (not ends and len(text) > 4 * _CHUNK):
                cut = len(text)  # the end, or one giant cell: at most it goes uncounted
            else:
                cut = ends[-1] if ends else 0
            body, tail = text[:cut], text[cut:]
            for match in _CELL.finditer(body):
                if _SHARED_TYPE.search(match.group(1) or b""):
                    value = _VALUE.search(match.group(2))
                    if value and int(value.group(1)) < len(sizes):
                        total += sizes[int(value.group(1))]
            if not chunk:
                return total
