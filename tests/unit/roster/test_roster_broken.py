"""Broken and hostile rosters (R3): each is read, or refused with one clear RosterError line."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

import msoffcrypto.format.ooxml
import openpyxl
import psutil
import pytest
import xlsxwriter

from bulk_provision.errors import Hint, RosterError, Where
from bulk_provision.roster.read import read_roster

pytestmark = pytest.mark.timeout(30)


def small_xlsx(path: Path) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["PartnerUserID", "UserAddress"])
    sheet.write_row(1, 0, ["1", "a.demo.glance.net"])
    workbook.close()
    return path


def refused(path: Path, **options: object) -> str:
    with pytest.raises(RosterError) as caught:
        read_roster(path, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --- Refusals ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in refused(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "roster.csv"
    folder.mkdir()
    assert "is a directory" in refused(folder)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "roster.pdf"
    path.write_bytes(b"%PDF-1.7")
    assert "unknown file type .pdf; use one of .csv, .tsv, .txt, .xlsx, .xlsm, .xls" in refused(
        path
    )


@pytest.mark.parametrize("name", ["r.csv", "r.xlsx"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert "is empty (0 bytes)" in refused(path)


@pytest.mark.parametrize(
    "text", ["PartnerUserID,UserAddress\n", "PartnerUserID,UserAddress\n,\n\n"]
)
def test_csv_header_only(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    assert refused(path) == "r.csv: the roster has a header but no data rows"


def test_csv_only_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("\n \n\u00a0\n", encoding="utf-8")
    assert "no header and no data rows" in refused(path)


def test_xlsx_header_only(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet().write_row(0, 0, ["PartnerUserID", "UserAddress"])
    workbook.close()
    assert refused(path) == "r.xlsx, sheet 'Sheet1': the roster has a header but no data rows"
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert caught.value.hint is Hint.PICK_SHEET
    assert caught.value.where == Where(file="r.xlsx")


def test_xlsx_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet()
    workbook.close()
    assert "no header and no data rows" in refused(path)


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm", ".xls"])
def test_garbage_bytes_named_as_a_workbook(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"r{suffix}"
    path.write_bytes(random.Random(1).randbytes(5000))
    assert "not a valid Excel workbook" in refused(path)
    assert "saved as .xlsx" in refused(path)


def test_csv_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_text("PartnerUserID,UserAddress\n1,a.glance.net\n", encoding="utf-8")
    assert "not a valid Excel workbook" in refused(path)


def test_truncated_xlsx(tmp_path: Path) -> None:
    path = small_xlsx(tmp_path / "r.xlsx")
    path.write_bytes(path.read_bytes()[:2000])
    assert "not a valid Excel workbook" in refused(path)


def test_zip_without_a_workbook_inside(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert "not a valid Excel workbook" in refused(path)


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(60):
                member.write(b"0" * 2**20)
    assert path.stat().st_size < 500_000
    assert "looks like a zip bomb" in refused(path)


def _patch_declared_size(data: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size of every central-directory entry."""
    patched = bytearray(data)
    start = patched.find(b"PK\x01\x02")
    while start != -1:
        patched[start + 24 : start + 28] = struct.pack("<I", size)
        start = patched.find(b"PK\x01\x02", start + 4)
    return bytes(patched)


def test_zip_bomb_by_declared_size(tmp_path: Path) -> None:
    path = small_xlsx(tmp_path / "r.xlsx")
    path.write_bytes(_patch_declared_size(path.read_bytes(), 900 * 2**20))
    assert "looks like a zip bomb" in refused(path)


def test_zip_member_that_lies_about_its_size(tmp_path: Path) -> None:
    path = small_xlsx(tmp_path / "r.xlsx")
    path.write_bytes(_patch_declared_size(path.read_bytes(), 10))
    assert "not a valid Excel workbook" in refused(path)


def test_password_protected_workbook(tmp_path: Path) -> None:
    plain = small_xlsx(tmp_path / "plain.xlsx")
    path = tmp_path / "locked.xlsx"
    with plain.open("rb") as source, path.open("wb") as target:
        msoffcrypto.format.ooxml.OOXMLFile(source).encrypt("Secret-123", target)
    assert refused(path) == (
        "the workbook is password-protected: open it in Excel, remove the password and save again"
    )


def test_old_excel_file_named_xlsx(tmp_path: Path) -> None:
    # An OLE container (the .xls format) without an EncryptedPackage stream.
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))
    assert "is an old Excel (.xls) workbook: rename it" in refused(path)
    renamed = path.rename(tmp_path / "r.xls")
    assert "not a valid Excel workbook" in refused(renamed)


def test_csv_of_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(random.Random(2).randbytes(8000))
    assert "does not look like a CSV text file" in refused(path)


def test_workbook_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(small_xlsx(tmp_path / "x.xlsx").read_bytes())
    assert "is an Excel workbook, not CSV: rename it to .xlsx" in refused(path)


def test_sheet_option_on_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("PartnerUserID\n1\n", encoding="utf-8")
    assert "has no sheets" in refused(path, sheet="Roster")


def test_only_hidden_sheets(tmp_path: Path) -> None:
    source = small_xlsx(tmp_path / "visible.xlsx")
    path = tmp_path / "r.xlsx"
    # Excel writers insist on one visible sheet, so hide it in workbook.xml directly.
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "xl/workbook.xml":
                data = data.replace(b'<sheet name="Sheet1"', b'<sheet name="Sheet1" state="hidden"')
            new.writestr(item, data)
    assert "no visible worksheet" in refused(path)
    assert read_roster(path, sheet="Sheet1").frame.loc[2, "PartnerUserID"] == "1"


# --- Hard but readable ---------------------------------------------------------------------------


def test_a_cell_as_long_as_excel_allows_is_read(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    big = "é" * 32_767  # 65,534 bytes: the longest text a spreadsheet cell holds
    path.write_text(f'PartnerUserID,Notes\n1,"{big}"\n2,short\n', encoding="utf-8")
    frame = read_roster(path).frame
    assert len(frame.loc[2, "Notes"]) == 32_767
    assert frame.loc[3, "Notes"] == "short"


def test_a_one_megabyte_cell_is_refused_naming_its_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    big = "x" * 1_000_000
    path.write_text(f'PartnerUserID,Notes\n1,"{big}"\n2,short\n', encoding="utf-8")
    with pytest.raises(RosterError, match=r"^row 2, column Notes, has a value longer than a"):
        read_roster(path)


def test_one_megabyte_inline_cell_in_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()  # openpyxl writes the text in the cell: it costs what it weighs
    book.active.append(["PartnerUserID", "Notes"])
    book.active.append(["1", "y" * 1_000_000])
    book.save(path)
    # Excel itself holds at most 32,767 characters in a cell; what is read must not crash.
    assert len(read_roster(path).frame.loc[2, "Notes"]) >= 32_767


def test_a_cell_as_long_as_excel_allows_in_xlsx_is_read(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["PartnerUserID", "Notes"])
    book.active.append(["1", "é" * 32_767])
    book.save(path)
    assert read_roster(path).frame.loc[2, "Notes"] == "é" * 32_767


@pytest.mark.slow
def test_ten_thousand_columns_csv(tmp_path: Path) -> None:
    headers = ["PartnerUserID"] + [f"Extra {i}" for i in range(9_999)]
    values = ["1"] + [str(i) for i in range(9_999)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(headers) + "\n" + ",".join(values) + "\n", encoding="utf-8")
    frame = read_roster(path).frame
    assert frame.shape == (1, 10_000)
    assert frame.loc[2, "Extra 9998"] == "9998"


def test_ten_thousand_columns_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "wide.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["PartnerUserID"] + ["Notes"] * 9_999)
    sheet.write_row(1, 0, ["1"] + [f"v{i}" for i in range(9_999)])
    workbook.close()
    roster = read_roster(path)
    assert roster.frame.shape == (1, 10_000)
    assert roster.frame.loc[2, "Notes (9999)"] == "v9998"


def test_mixed_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"PartnerUserID,UserFirst\r\n1,a\n2,b\r3,c\r\n\n4,d")
    frame = read_roster(path).frame
    assert frame.index.tolist() == [2, 3, 4, 6]
    assert frame["UserFirst"].tolist() == ["a", "b", "c", "d"]


def test_cp1252_file_that_claims_nothing(tmp_path: Path) -> None:
    # Saved by "CSV (Windows)": no BOM, not UTF-8; the euro sign is 0x80 in Windows-1252.
    path = tmp_path / "r.txt"
    path.write_bytes("PartnerUserID;UserFirst;Notes\n1;Renée;€5\n".encode("cp1252"))
    roster = read_roster(path)
    assert roster.encoding == "cp1252"
    assert roster.frame.loc[2].tolist() == ["1", "Renée", "€5"]


def test_utf16_without_bom_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("PartnerUserID\tUserFirst\n1\tZoë\n".encode("utf-16-be"))
    roster = read_roster(path)
    assert roster.frame.loc[2, "UserFirst"] == "Zoë"


def test_comma_file_named_tsv(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    path.write_text("PartnerUserID,UserFirst\n1,Ann\n", encoding="utf-8")
    assert read_roster(path).frame.loc[2].tolist() == ["1", "Ann"]


def test_duplicate_ids_are_read_for_validation_to_judge(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("PartnerUserID,UserAddress\n7,a.glance.net\n7,b.glance.net\n", encoding="utf-8")
    assert read_roster(path).frame["PartnerUserID"].tolist() == ["7", "7"]


def test_right_to_left_and_emoji_names_round_trip(tmp_path: Path) -> None:
    names = ["מרים", "محمد عبد الله", "Zoë 🙂", "李小龍", "👩🏽‍💻"]
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(
        "PartnerUserID,UserFirst\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)),
        encoding="utf-8-sig",
    )
    xlsx_path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(xlsx_path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["PartnerUserID", "UserFirst"])
    for i, name in enumerate(names):
        sheet.write_row(i + 1, 0, [str(i), f"\u00a0{name} "])
    workbook.close()
    for path in (csv_path, xlsx_path):
        assert read_roster(path).frame["UserFirst"].tolist() == names


def test_excel_dates_and_numbers_in_the_id_column(tmp_path: Path) -> None:
    import datetime as dt

    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["Employee ID", "UserAddress"])
    sheet.write_number(1, 0, 120000)
    sheet.write_number(2, 0, 1.2e5)
    sheet.write_datetime(3, 0, dt.datetime(2024, 3, 1), workbook.add_format({"num_format": 14}))
    sheet.write_number(4, 0, 123456789012)
    for row in range(1, 5):
        sheet.write_string(row, 1, f"u{row}.demo.glance.net")
    workbook.close()
    roster = read_roster(path)
    ids = roster.frame["PartnerUserID"].tolist()
    assert ids == ["120000", "120000", "2024-03-01", "123456789012"]
    assert [(w.row, w.column) for w in roster.warnings] == [
        (2, "PartnerUserID"),
        (3, "PartnerUserID"),
        (4, "PartnerUserID"),
        (5, "PartnerUserID"),
    ]
    assert "as a date" in roster.warnings[2].message


@pytest.mark.slow
def test_million_row_csv_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("PartnerUserID,UserAddress\n")
        out.writelines(f"{i:07d},u{i}.glance.net\n" for i in range(1_000_000))
    process = psutil.Process()
    before = process.memory_info().rss
    roster = read_roster(path)
    grown = process.memory_info().rss - before
    assert len(roster.frame) == 1_000_000
    assert roster.frame.index[-1] == 1_000_001
    assert roster.frame.loc[1_000_001, "PartnerUserID"] == "0999999"
    assert grown < 1.5 * 2**30


def test_read_bytes_error_is_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.csv"
    path.write_text("PartnerUserID\n1\n", encoding="utf-8")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert "cannot read roster" in refused(path)
    assert "Permission denied" in refused(path)
