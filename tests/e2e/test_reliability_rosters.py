"""Broken rosters at the CLI (R3): `validate` and `run` end in one clear line or row problems.

Every case below goes through ``main(["validate", path])`` and ``main(["run", path, ...])`` (the
latter against the in-process simulator) and must end in one of three ways:

* exit 2: exactly one line on stderr, ``bulk-provision: error: ...``, and for ``run`` not a single
  request reached the simulator;
* exit 3: the rows that break the rules are listed (row numbers as in the spreadsheet), and for
  ``run`` not a single request was sent and the results workbook lists every row;
* exit 0: the file was odd but readable, and ``run`` created exactly the users it holds.

The reader-level behaviour of most of these files is pinned in ``test_roster_broken.py``; this file
proves what a user sees at the command line. A Python traceback would escape ``main`` here and fail
the test.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msoffcrypto.format.ooxml
import openpyxl
import psutil
import pytest
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.hostile_files import deep_styles, shared_text_xlsx
from tests.unit.roster.test_roster_broken import _patch_declared_size, small_xlsx
from tests.workbooks import sheet_rows

# Generous: a wide or huge roster takes seconds alone, many times that on a loaded machine;
# the limit only catches a hang, it never measures speed.
pytestmark = pytest.mark.timeout(180)

HEADER = ["PartnerUserID", "UserAddress", "UserFirst", "UserLast"]


def rows_of(n: int, start: int = 1) -> list[list[str]]:
    return [[f"{i:05d}", f"user{i}.demo.glance.net", f"First{i}", f"Last{i}"]
            for i in range(start, start + n)]


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ",",
              encoding: str = "utf-8", newline: str = "\r\n", prefix: bytes = b"") -> Path:
    def cell(value: str) -> str:
        if any(c in value for c in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "".join(delimiter.join(cell(v) for v in row) + newline for row in rows)
    path.write_bytes(prefix + text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]],
               extra: Callable[[xlsxwriter.Workbook, Worksheet], None] | None = None) -> Path:
    """Rows written as xlsxwriter infers them (strings stay strings); ``extra`` adds quirks."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    sheet = workbook.add_worksheet("Roster")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    if extra is not None:
        extra(workbook, sheet)
    workbook.close()
    return path


# --- the builders: each writes one broken roster into a folder and returns its path -------------


def empty_csv(d: Path) -> Path:
    (d / "r.csv").write_bytes(b"")
    return d / "r.csv"


def empty_xlsx(d: Path) -> Path:
    (d / "r.xlsx").write_bytes(b"")
    return d / "r.xlsx"


def header_only_csv(d: Path) -> Path:
    return write_csv(d / "r.csv", [HEADER, ["", "", "", ""]])


def header_only_xlsx(d: Path) -> Path:
    return write_xlsx(d / "r.xlsx", [HEADER])


def blank_lines_only(d: Path) -> Path:
    (d / "r.csv").write_text("\n \n\u00a0\n,,,\n", encoding="utf-8")
    return d / "r.csv"


def garbage_named_xlsx(d: Path) -> Path:
    (d / "r.xlsx").write_bytes(random.Random(7).randbytes(20_000))
    return d / "r.xlsx"


def csv_named_xlsx(d: Path) -> Path:
    return write_csv(d / "r.xlsx", [HEADER, *rows_of(2)])


def truncated_xlsx(d: Path) -> Path:
    path = write_xlsx(d / "r.xlsx", [HEADER, *rows_of(50)])
    path.write_bytes(path.read_bytes()[:3000])
    return path


def blank_lines_first(d: Path) -> Path:
    path = write_csv(d / "r.csv", [HEADER, *rows_of(2)])
    path.write_bytes(b"\n" * 3_000_000 + path.read_bytes())
    return path


def comma_lines_at_the_end(d: Path) -> Path:
    path = write_csv(d / "r.csv", [HEADER, *rows_of(2)])
    path.write_bytes(path.read_bytes() + b",,,\r\n" * 1_000_000)
    return path


def million_fields_line(d: Path) -> Path:
    path = write_csv(d / "r.csv", [HEADER, *rows_of(2)])
    path.write_bytes(path.read_bytes() + b"a," * 1_000_000 + b"\r\n")
    return path


def huge_shared_string(d: Path) -> Path:
    return shared_text_xlsx(d / "r.xlsx", HEADER, "y" * 5_000_000, 2)


def long_text_in_many_cells(d: Path) -> Path:
    return shared_text_xlsx(d / "r.xlsx", HEADER, "y" * 30_000, 2_000)


def deeply_nested_styles(d: Path) -> Path:
    book = openpyxl.Workbook()
    for row in [HEADER, *rows_of(2)]:
        book.active.append(row)
    book.save(d / "r.xlsx")
    return deep_styles(d / "r.xlsx", 100_000)


def zip_bomb(d: Path) -> Path:
    path = d / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(100):
                member.write(b"0" * 2**20)
    return path


def zip_bomb_declared(d: Path) -> Path:
    path = small_xlsx(d / "r.xlsx")
    path.write_bytes(_patch_declared_size(path.read_bytes(), 3 * 2**30))
    return path


def password_protected(d: Path) -> Path:
    plain = write_xlsx(d / "plain.xlsx", [HEADER, *rows_of(3)])
    path = d / "locked.xlsx"
    with plain.open("rb") as source, path.open("wb") as target:
        msoffcrypto.format.ooxml.OOXMLFile(source).encrypt("Open-sesame-1", target)
    return path


def old_xls_named_xlsx(d: Path) -> Path:
    (d / "r.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    return d / "r.xlsx"


def binary_named_csv(d: Path) -> Path:
    (d / "r.csv").write_bytes(random.Random(8).randbytes(20_000))
    return d / "r.csv"


def xlsx_named_csv(d: Path) -> Path:
    source = write_xlsx(d / "x.xlsx", [HEADER, *rows_of(2)])
    (d / "r.csv").write_bytes(source.read_bytes())
    return d / "r.csv"


def pdf_named_pdf(d: Path) -> Path:
    (d / "r.pdf").write_bytes(b"%PDF-1.7\n")
    return d / "r.pdf"


def only_hidden_sheets(d: Path) -> Path:
    source = write_xlsx(d / "visible.xlsx", [HEADER, *rows_of(2)])
    path = d / "r.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "xl/workbook.xml":
                data = data.replace(b'<sheet name="Roster"', b'<sheet name="Roster" state="hidden"')
            new.writestr(item, data)
    return path


def hidden_sheet_first(d: Path) -> Path:
    """A hidden scratch sheet before the visible roster: the visible one is read."""
    workbook = xlsxwriter.Workbook(str(d / "r.xlsx"))
    scratch = workbook.add_worksheet("Old")
    scratch.write_row(0, 0, ["PartnerUserID", "UserAddress"])
    scratch.write_row(1, 0, ["99999", "-broken-"])
    roster = workbook.add_worksheet("Roster")
    for r, row in enumerate([HEADER, *rows_of(2)]):
        roster.write_row(r, 0, row)
    roster.activate()
    scratch.hide()
    workbook.close()
    return d / "r.xlsx"


def sheet_that_does_not_exist(d: Path) -> Path:
    return write_xlsx(d / "r.xlsx", [HEADER, *rows_of(2)])


def notes_sheet_then_roster(d: Path) -> Path:
    """Two visible sheets, the wrong one first, picked with --sheet."""
    workbook = xlsxwriter.Workbook(str(d / "r.xlsx"))
    notes = workbook.add_worksheet("Notes")
    notes.write(0, 0, "Read me first: the roster is on the next sheet")
    roster = workbook.add_worksheet("Staff")
    for r, row in enumerate([HEADER, *rows_of(2)]):
        roster.write_row(r, 0, row)
    workbook.close()
    return d / "r.xlsx"


def wrong_sheet_first_without_option(d: Path) -> Path:
    return notes_sheet_then_roster(d)


def missing_required_column(d: Path) -> Path:
    return write_csv(d / "r.csv", [["Employee ID", "Glance Adress", "First Name"],
                                   ["1", "a.demo.glance.net", "Ann"]])


def two_headers_for_one_column(d: Path) -> Path:
    return write_csv(d / "r.csv", [["Employee ID", "PartnerUserID", "UserAddress"],
                                   ["1", "1", "a.demo.glance.net"]])


def repeated_unknown_headers(d: Path) -> Path:
    return write_csv(d / "r.csv", [[*HEADER, "Notes", "Notes", ""],
                                   *[[*r, "n1", "n2", "n3"] for r in rows_of(2)]])


def duplicate_ids(d: Path) -> Path:
    rows = rows_of(4)
    rows[3][0] = rows[1][0]
    return write_csv(d / "r.csv", [HEADER, *rows])


def duplicate_addresses_differing_in_case(d: Path) -> Path:
    rows = rows_of(3)
    rows[2][1] = rows[0][1].upper()
    return write_csv(d / "r.csv", [HEADER, *rows])


def nbsp_everywhere(d: Path) -> Path:
    rows = [[f"\u00a0{v}\u00a0" for v in row] for row in rows_of(3)]
    return write_csv(d / "r.csv", [[f"\u00a0{h} " for h in HEADER], *rows])


RTL_EMOJI = ["מרים", "محمد عبد الله", "Zoë 🙂", "李小龍", "👩🏽\u200d💻"]


def rtl_and_emoji_csv(d: Path) -> Path:
    rows = [[f"{i:05d}", f"u{i}.demo.glance.net", name, "\u202eLast"]
            for i, name in enumerate(RTL_EMOJI)]
    return write_csv(d / "r.csv", [HEADER, *rows], encoding="utf-8-sig")


def rtl_and_emoji_xlsx(d: Path) -> Path:
    rows: list[list[object]] = [[f"{i:05d}", f"u{i}.demo.glance.net", name, "\u202eLast"]
                                for i, name in enumerate(RTL_EMOJI)]
    return write_xlsx(d / "r.xlsx", [HEADER, *rows])


def numbers_and_dates_in_the_id_column(d: Path) -> Path:
    def extra(workbook: xlsxwriter.Workbook, sheet: Worksheet) -> None:
        sheet.write_number(1, 0, 120000)
        sheet.write_number(2, 0, 123456789012)
        sheet.write_datetime(3, 0, dt.datetime(2024, 3, 1), workbook.add_format({"num_format": 14}))
        sheet.write_number(4, 0, 123, workbook.add_format({"num_format": "00000"}))

    rows: list[list[object]] = [HEADER] + [[None, f"n{i}.demo.glance.net"] for i in range(4)]
    return write_xlsx(d / "r.xlsx", rows, extra)


def float_id_collides(d: Path) -> Path:
    """120000 and 1.2E+5 are one number: Excel shows both as 120000, so they clash."""

    def extra(workbook: xlsxwriter.Workbook, sheet: Worksheet) -> None:
        sheet.write_number(1, 0, 120000)
        sheet.write_number(2, 0, 1.2e5)

    rows: list[list[object]] = [HEADER] + [[None, f"f{i}.demo.glance.net"] for i in range(2)]
    return write_xlsx(d / "r.xlsx", rows, extra)


def formulas_with_cached_values(d: Path) -> Path:
    def extra(workbook: xlsxwriter.Workbook, sheet: Worksheet) -> None:
        sheet.write_formula(1, 1, '="f1"&".demo.glance.net"', None, "f1.demo.glance.net")
        sheet.write_formula(2, 2, '=UPPER("ann")', None, "ANN")

    rows: list[list[object]] = [HEADER, ["00001", None, "Zed"], ["00002", "f2.demo.glance.net"]]
    return write_xlsx(d / "r.xlsx", rows, extra)


def formulas_without_cached_values(d: Path) -> Path:
    """openpyxl stores formulas with no computed value: the address reads as empty."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["1", '=A2&".demo.glance.net"', "Ann"])
    sheet.append(["2", "b.demo.glance.net", "Bob"])
    book.save(d / "r.xlsx")
    book.close()
    return d / "r.xlsx"


def formula_looking_text_csv(d: Path) -> Path:
    rows = [[*r, v] for r, v in zip(rows_of(4), ["=cmd|' /C calc'!A0", "+1 555", "-2+3", "@SUM(1)"],
                                    strict=True)]
    return write_csv(d / "r.csv", [[*HEADER, "Notes"], *rows])


def merged_cells(d: Path) -> Path:
    def extra(workbook: xlsxwriter.Workbook, sheet: Worksheet) -> None:
        sheet.merge_range(1, 0, 2, 0, "00001")  # one ID spread over two people

    rows: list[list[object]] = [HEADER, [None, "m1.demo.glance.net"],
                                [None, "m2.demo.glance.net"], ["00003", "m3.demo.glance.net"]]
    return write_xlsx(d / "r.xlsx", rows, extra)


def one_megabyte_cell_unknown_column(d: Path) -> Path:
    rows = [[*r, n] for r, n in zip(rows_of(2), ["x" * 1_000_000, "short"], strict=True)]
    return write_csv(d / "r.csv", [[*HEADER, "Notes"], *rows])


def one_megabyte_first_name(d: Path) -> Path:
    rows = rows_of(2)
    rows[0][2] = "y" * 1_000_000
    return write_csv(d / "r.csv", [HEADER, *rows])


def one_megabyte_cell_xlsx(d: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    book.active.append(["1", "a.demo.glance.net", "z" * 1_000_000])
    book.save(d / "r.xlsx")
    book.close()
    return d / "r.xlsx"


def ten_thousand_columns_csv(d: Path) -> Path:
    header = [*HEADER, *(f"Extra {i}" for i in range(9_996))]
    return write_csv(d / "r.csv", [header, [*rows_of(1)[0], *(str(i) for i in range(9_996))]])


def ten_thousand_columns_xlsx(d: Path) -> Path:
    workbook = xlsxwriter.Workbook(str(d / "r.xlsx"), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, [*HEADER, *["Notes"] * 9_996])
    sheet.write_row(1, 0, [*rows_of(1)[0], *(f"v{i}" for i in range(9_996))])
    workbook.close()
    return d / "r.xlsx"


NAMES = [["00001", "e1.demo.glance.net", "Renée", "Müller"],
         ["00002", "e2.demo.glance.net", "Zoë", "Ødegård"]]


def cp1252_no_bom(d: Path) -> Path:
    return write_csv(d / "r.csv", [HEADER, *NAMES], encoding="cp1252")


def cp1252_named_tsv_with_semicolons(d: Path) -> Path:
    return write_csv(d / "r.tsv", [HEADER, *NAMES], delimiter=";", encoding="cp1252")


def utf16_le_with_bom(d: Path) -> Path:
    return write_csv(d / "r.csv", [HEADER, *NAMES], delimiter="\t", encoding="utf-16")


def utf16_be_without_bom(d: Path) -> Path:
    return write_csv(d / "r.txt", [HEADER, *NAMES], delimiter="\t", encoding="utf-16-be")


def utf16_le_without_bom(d: Path) -> Path:
    return write_csv(d / "r.csv", [HEADER, *NAMES], encoding="utf-16-le")


def utf16_bom_over_utf8_bytes(d: Path) -> Path:
    """A UTF-16 byte-order mark that lies: the rest is UTF-8."""
    return write_csv(d / "r.csv", [HEADER, *NAMES], prefix=b"\xff\xfe")


def utf8_named_semicolon_file(d: Path) -> Path:
    return write_csv(d / "r.csv", [HEADER, *NAMES], delimiter=";", encoding="utf-8-sig")


def mixed_line_endings(d: Path) -> Path:
    path = d / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress\r\n1,a.demo.glance.net\n2,b.demo.glance.net\r"
                     b"3,c.demo.glance.net\r\n\n4,d.demo.glance.net")
    return path


def newline_inside_a_cell(d: Path) -> Path:
    rows = rows_of(2)
    rows[0][0] = "000\n01"  # an ID over two lines is still text; the address is not valid
    rows[1][1] = "two\nlines.demo.glance.net"
    return write_csv(d / "r.csv", [HEADER, *rows])


def unbalanced_quote(d: Path) -> Path:
    path = d / "r.csv"
    path.write_text('PartnerUserID,UserAddress,UserFirst\n1,a.demo.glance.net,"Ann\n'
                    "2,b.demo.glance.net,Bob\n", encoding="utf-8")
    return path


def nul_bytes_in_cells(d: Path) -> Path:
    path = d / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress,UserFirst\n1,a.demo.glance.net,A\x00nn\n")
    return path


def header_after_blank_rows_and_empty_rows_between(d: Path) -> Path:
    return write_csv(d / "r.csv", [["", "", "", ""], HEADER, rows_of(1)[0], ["", "", "", ""],
                                   rows_of(1, start=2)[0]])


def invalid_cells_everywhere(d: Path) -> Path:
    return write_csv(d / "r.csv", [
        [*HEADER, "UserPW", "UserEmail", "AudioProvider", "Action"],
        ["", "-bad-", "F", "L", "short", "not-an-email", "7", "explode"],
        ["2", "ok.demo.glance.net", "F", "L", "long-enough-pw", "a@b.example", "666", "create"],
    ])


def utf8_bom_over_cp1252_bytes(d: Path) -> Path:
    """A UTF-8 byte-order mark that lies: the rest is Windows-1252."""
    return write_csv(d / "r.csv", [HEADER, *NAMES], encoding="cp1252", prefix=b"\xef\xbb\xbf")


def control_characters_in_xlsx(d: Path) -> Path:
    return write_xlsx(d / "r.xlsx", [HEADER, ["1", "a\x07.demo.glance.net", "Ann\x0bB"]])



@dataclass(frozen=True)
class Case:
    """One broken roster and what the CLI must make of it.

    ``exit`` is the exit code of both ``validate`` and ``run``; ``says`` a fragment of the error
    line (exit 2) or of ``validate``'s summary (exit 3); ``created`` (exit 0) the users ``run``
    must create, PartnerUserID -> UserFirst as Glance stores them. ``scale``: the case is about
    size, not shape, and takes many seconds; it runs under ``-m scale`` (``make chaos``).
    """

    build: Callable[[Path], Path]
    exit: int
    says: str = ""
    args: tuple[str, ...] = ()
    created: dict[str, str] = field(default_factory=dict)
    scale: bool = False


def _users(rows: list[list[str]]) -> dict[str, str]:
    return {r[0]: r[2] for r in rows}


CASES = {
    "empty csv": Case(empty_csv, 2, "is empty (0 bytes)"),
    "empty xlsx": Case(empty_xlsx, 2, "is empty (0 bytes)"),
    "header only csv": Case(header_only_csv, 2, "a header but no data rows"),
    "header only xlsx": Case(header_only_xlsx, 2, "a header but no data rows"),
    "blank lines only": Case(blank_lines_only, 2, "no header and no data rows"),
    "garbage named xlsx": Case(garbage_named_xlsx, 2, "not a valid Excel workbook"),
    "csv named xlsx": Case(csv_named_xlsx, 2, "not a valid Excel workbook"),
    "truncated xlsx": Case(truncated_xlsx, 2, "not a valid Excel workbook"),
    "3,000,000 blank lines before the header": Case(blank_lines_first, 2,
                                                    "most of its lines are empty"),
    "1,000,000 comma-only lines at the end": Case(comma_lines_at_the_end, 0,
                                                  created=_users(rows_of(2))),
    "a line of 1,000,000 fields": Case(million_fields_line, 2, "row 4 has 1,000,001 values"),
    "a 5,000,000-character shared string": Case(huge_shared_string, 2,
                                                "more text than a spreadsheet cell can hold"),
    "30,000 characters in 2,000 cells": Case(long_text_in_many_cells, 2, "repeats long texts"),
    "styles nested 100,000 deep": Case(deeply_nested_styles, 0, created=_users(rows_of(2))),
    "zip bomb": Case(zip_bomb, 2, "zip bomb"),
    "zip bomb by declared size": Case(zip_bomb_declared, 2, "zip bomb"),
    "password-protected workbook": Case(password_protected, 2, "password-protected"),
    "old xls named xlsx": Case(old_xls_named_xlsx, 2, "old Excel (.xls)"),
    "binary garbage named csv": Case(binary_named_csv, 2, "does not look like a CSV"),
    "xlsx named csv": Case(xlsx_named_csv, 2, "rename it to .xlsx"),
    "unknown file type": Case(pdf_named_pdf, 2, "unknown file type .pdf"),
    "only hidden sheets": Case(only_hidden_sheets, 2, "no visible worksheet"),
    "hidden sheet before the roster": Case(hidden_sheet_first, 0,
                                           created=_users(rows_of(2))),
    "--sheet that does not exist": Case(sheet_that_does_not_exist, 2, 'no sheet "Staff"',
                                        ("--sheet", "Staff")),
    "several sheets, --sheet picks": Case(notes_sheet_then_roster, 0, args=("--sheet", "Staff"),
                                         created=_users(rows_of(2))),
    "several sheets, notes first": Case(wrong_sheet_first_without_option, 2,
                                        "a header but no data rows"),
    "missing required column": Case(missing_required_column, 2,
                                    'did you mean "Glance Adress" for UserAddress?'),
    "two headers for one column": Case(two_headers_for_one_column, 2, "both mean PartnerUserID"),
    "repeated unknown headers": Case(repeated_unknown_headers, 0, created=_users(rows_of(2))),
    "duplicate IDs": Case(duplicate_ids, 3, "PartnerUserID.unique     2 rows  (rows 3, 5)"),
    "duplicate addresses by case": Case(duplicate_addresses_differing_in_case, 3,
                                        "UserAddress.unique     2 rows  (rows 2, 4)"),
    "non-breaking spaces": Case(nbsp_everywhere, 0, created=_users(rows_of(3))),
    "right-to-left and emoji csv": Case(rtl_and_emoji_csv, 0,
                                        created={f"{i:05d}": n for i, n in enumerate(RTL_EMOJI)}),
    "right-to-left and emoji xlsx": Case(rtl_and_emoji_xlsx, 0,
                                         created={f"{i:05d}": n for i, n in enumerate(RTL_EMOJI)}),
    "numbers and dates in the ID column": Case(
        numbers_and_dates_in_the_id_column, 0,
        created={"120000": "", "123456789012": "", "2024-03-01": "", "00123": ""}),
    "1.2E+5 and 120000 collide": Case(float_id_collides, 3, "(rows 2, 3)"),
    "formulas with cached values": Case(formulas_with_cached_values, 0,
                                        created={"00001": "Zed", "00002": "ANN"}),
    "formulas without cached values": Case(formulas_without_cached_values, 3,
                                           "UserAddress.required"),
    "formula-looking text": Case(formula_looking_text_csv, 0, created=_users(rows_of(4))),
    "merged ID cells": Case(merged_cells, 3, "PartnerUserID.required"),
    "1 MB cell in an unknown column": Case(
        one_megabyte_cell_unknown_column, 2,
        "row 2, column Notes, has a value longer than a spreadsheet cell can hold"),
    "1 MB first name": Case(one_megabyte_first_name, 2, "row 2, column UserFirst, has a value"),
    "1 MB cell in xlsx": Case(one_megabyte_cell_xlsx, 3, "UserFirst.length"),
    "10,000 columns csv": Case(ten_thousand_columns_csv, 0, created=_users(rows_of(1)),
                               scale=True),
    "10,000 columns xlsx": Case(ten_thousand_columns_xlsx, 0, created=_users(rows_of(1)),
                                scale=True),
    "Windows-1252 without BOM": Case(cp1252_no_bom, 0, created=_users(NAMES)),
    "Windows-1252 semicolons named tsv": Case(cp1252_named_tsv_with_semicolons, 0,
                                              created=_users(NAMES)),
    "UTF-16 LE with BOM": Case(utf16_le_with_bom, 0, created=_users(NAMES)),
    "UTF-16 BE without BOM": Case(utf16_be_without_bom, 0, created=_users(NAMES)),
    "UTF-16 LE without BOM": Case(utf16_le_without_bom, 0, created=_users(NAMES)),
    # Read as UTF-16, the UTF-8 bytes become one line of CJK-looking text: refused all the same.
    "UTF-16 BOM over UTF-8": Case(utf16_bom_over_utf8_bytes, 2, "no data rows"),
    "UTF-8 with BOM and semicolons": Case(utf8_named_semicolon_file, 0, created=_users(NAMES)),
    "mixed line endings": Case(mixed_line_endings, 0, created={k: "" for k in "1234"}),
    "newline inside cells": Case(newline_inside_a_cell, 3, "UserAddress.characters"),
    # As in Excel, an open quote runs to the end of the file: one row, its name the rest.
    # The quote swallows the next line into the name: the line break in it is caught.
    "unbalanced quote": Case(unbalanced_quote, 3, "UserFirst contains control characters (\\n)"),
    "NUL byte in a cell": Case(nul_bytes_in_cells, 3, "UserFirst.control"),
    "header after blank rows": Case(header_after_blank_rows_and_empty_rows_between, 0,
                                    created=_users(rows_of(2))),
    "UTF-8 BOM over Windows-1252": Case(utf8_bom_over_cp1252_bytes, 2, "not valid utf-8 text"),
    "control characters in xlsx": Case(control_characters_in_xlsx, 3, "UserAddress.characters"),
    "invalid cells everywhere": Case(invalid_cells_everywhere, 3, "AudioProvider.value"),
}


def case_params(names: list[str]) -> list[object]:
    """The case names for ``parametrize``, a ``scale`` case marked ``scale``."""
    return [pytest.param(name, marks=pytest.mark.scale) if CASES[name].scale else name
            for name in names]


# --- the simulator, the environment and what the CLI printed -----------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # no stray bulk-provision.toml is picked up
    yield tmp_path


@pytest.fixture
def glance(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    for key in ("GLANCE_API_KEY", "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID",
                "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GLANCE_BASE_URL", simulator.base_url)
    monkeypatch.setenv("GLANCE_CA_BUNDLE", str(simulator.ca_bundle))
    monkeypatch.setenv("GLANCE_PARTNER_LOGIN", simulator.config.partner_login)
    monkeypatch.setenv("GLANCE_PARTNER_PW", simulator.config.partner_pw)
    return simulator


def assert_one_error_line(err: str, says: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bulk-provision: error: "), err
    assert says in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", case_params(list(CASES)))
def test_validate(name: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    path = case.build(workdir)
    report = workdir / "report.xlsx"
    code = main(["validate", str(path), *case.args, "--report", str(report)])
    out, err = capsys.readouterr()
    assert code == case.exit, out + err
    if code == 2:
        assert_one_error_line(err, case.says)
        assert out == "" and not report.exists()
        return
    assert err == "" and "Traceback" not in out
    problems = sheet_rows(report, "Problems")
    if code == 3:
        assert "Problems:" in out and case.says in out, out
        assert problems and all(p["Message"] for p in problems)
    else:
        assert "invalid: 0" in out and "Problems:" not in out
        assert problems == []


@pytest.mark.parametrize("name", case_params(list(CASES)))
def test_run(
    name: str, workdir: Path, glance: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    path = case.build(workdir)
    out_path = workdir / "results.xlsx"
    code = main(["run", str(path), *case.args, "--rate", "0", "--no-progress",
                 "--out", str(out_path)])
    out, err = capsys.readouterr()
    assert code == case.exit, out + err
    assert "Traceback" not in out + err
    if code == 2:
        assert_one_error_line(err, case.says)
        assert glance.request_log == []
        return
    rows = sheet_rows(out_path, "Results")
    if code == 3:
        assert glance.request_log == []  # not one request, let alone a write
        said = re.search(r"(\d+) of (\d+) rows are invalid; nothing was sent", out)
        assert said is not None, out
        invalid, total = said.groups()
        assert len(rows) == int(total)  # every roster row is listed
        assert {str(r["Outcome"]) for r in rows} <= {"invalid", "not attempted"}
        flagged = {r["Row"] for r in rows if r["Outcome"] == "invalid"}
        assert len(flagged) == int(invalid) > 0
        assert {p["Row"] for p in sheet_rows(out_path, "Problems")} == flagged
        return
    users = glance.users()
    assert {k: u.user_first for k, u in users.items()} == case.created
    assert glance.created_counts() == dict.fromkeys(case.created, 1)
    assert len(rows) == len(case.created)
    assert {str(r["Outcome"]) for r in rows} == {"created"}


# --- a million rows (scale: under -m scale, i.e. make chaos) --------------------------------------


@pytest.fixture(scope="module")
def million_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000,000 valid rows and, at the end, one repeated ID: refused with zero writes."""
    path = tmp_path_factory.mktemp("million") / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("PartnerUserID,UserAddress\n")
        out.writelines(f"{i:07d},u{i}.demo.glance.net\n" for i in range(1_000_000))
        out.write("0000007,again.demo.glance.net\n")
    return path


class PeakRss:
    """The highest RSS of this process while the block runs, sampled with psutil."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.stop = threading.Event()
        self.before = self.peak = self.process.memory_info().rss

    def __enter__(self) -> PeakRss:
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.before


LIMIT = int(1.5 * 2**30)
# A million rows take ~15 s alone; on a loaded machine several times that. A hang still ends.
MILLION_TIMEOUT = pytest.mark.timeout(300)


@pytest.mark.scale
@MILLION_TIMEOUT
def test_million_row_csv_validate(
    million_rows: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with PeakRss() as rss:
        code = main(["validate", str(million_rows)])
    out, err = capsys.readouterr()
    assert code == 3 and err == ""
    assert "Rows: 1000001  valid: 999999  invalid: 2" in out
    assert "(rows 9, 1000002)" in out
    assert rss.growth < LIMIT


@pytest.mark.scale
@MILLION_TIMEOUT
def test_million_row_csv_run(
    million_rows: Path, workdir: Path, glance: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = workdir / "big.results.xlsx"
    with PeakRss() as rss:
        code = main(["run", str(million_rows), "--no-progress", "--out", str(out_path)])
    out, err = capsys.readouterr()
    assert code == 3, out + err
    assert "Traceback" not in err
    assert glance.request_log == []
    assert "2 of 1000001 rows are invalid; nothing was sent" in out
    assert rss.growth < LIMIT
    assert out_path.stat().st_size > 0

