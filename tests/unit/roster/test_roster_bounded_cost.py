"""What reading a roster costs is bounded by its size (DESIGN.md section 11, docs/operations.md):
a sparse sheet or a ragged CSV is refused, or read without its empty cells, before any grid."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter

from bulk_provision.cli import main
from bulk_provision.errors import RosterError
from bulk_provision.roster.read import read_roster
from tests.hostile_files import deep_styles, rewrite_part, shared_text_xlsx

HEADER = ["PartnerUserID", "UserAddress"]


def sparse_xlsx(path: Path, corner: tuple[int, int]) -> Path:
    """A roster in A1:B3 and one stray cell at ``corner`` (0-based row, column)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Staff")
    sheet.write_row(0, 0, HEADER)
    sheet.write_row(1, 0, ["1", "a.x.glance.net"])
    sheet.write_row(2, 0, ["2", "b.x.glance.net"])
    sheet.write(*corner, "x")
    book.close()
    return path


def test_a_stray_cell_at_excels_last_cell_is_refused_before_the_range_is_built(
    tmp_path: Path,
) -> None:
    path = sparse_xlsx(tmp_path / "r.xlsx", (1_048_575, 16_383))
    assert path.stat().st_size < 10_000
    with pytest.raises(RosterError, match=r'^r.xlsx: sheet "Staff" .* reaches XFD1048576 .*stray'):
        read_roster(path)


def test_a_stray_cell_nearby_is_still_a_roster(tmp_path: Path) -> None:
    roster = read_roster(sparse_xlsx(tmp_path / "r.xlsx", (10, 5)))
    assert list(roster.frame["PartnerUserID"][:2]) == ["1", "2"]


def test_trailing_commas_are_dropped_before_any_grid(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = [",".join(HEADER) + "," * 60_000] + [f"{n},u{n}.x.glance.net" for n in range(4000)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    roster = read_roster(path)
    assert list(roster.frame.columns) == HEADER and len(roster.frame) == 4000


def test_a_record_wider_than_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    wide = ",".join(["v"] * 20_000)
    path.write_text(",".join(HEADER) + "\n1,a.x.glance.net\n" + wide + "\n", encoding="utf-8")
    with pytest.raises(RosterError, match="row 3 has 20,000 values, more than a spreadsheet"):
        read_roster(path)


def test_one_long_row_over_many_short_ones_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = [",".join(HEADER)] + [f"{n},u{n}.x.glance.net" for n in range(4000)]
    rows[2000] += "," + ",".join(["v"] * 10_000)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(RosterError, match="row 2001 has 10,002 values .* remove the stray"):
        read_roster(path)


def test_the_command_line_ends_a_sparse_sheet_in_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = sparse_xlsx(tmp_path / "r.xlsx", (1_048_575, 16_383))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Ctrl+End" in err[0] and "Traceback" not in err[0]


def test_a_shared_string_longer_than_a_cell_is_refused_before_calamine_opens_it(
    tmp_path: Path,
) -> None:
    path = shared_text_xlsx(tmp_path / "r.xlsx", HEADER, "y" * 10_000_000, 3)
    assert path.stat().st_size < 100_000
    with pytest.raises(RosterError, match=r"^the workbook has a cell with more text than a spr"):
        read_roster(path)


def test_a_long_shared_string_in_many_cells_is_refused_by_what_it_would_copy(
    tmp_path: Path,
) -> None:
    path = shared_text_xlsx(tmp_path / "r.xlsx", HEADER, "y" * 30_000, 3_000)  # 90 MB of copies
    with pytest.raises(RosterError, match=r'sheet "Staff" repeats long texts .* about 86 MB'):
        read_roster(path)


def test_a_long_shared_string_in_a_few_cells_is_read(tmp_path: Path) -> None:
    roster = read_roster(shared_text_xlsx(tmp_path / "r.xlsx", HEADER, "z" * 30_000, 20))
    assert set(roster.frame["Notes"]) == {"z" * 30_000}


def test_deeply_nested_styles_do_not_cost_a_tree(tmp_path: Path) -> None:
    path = deep_styles(sparse_xlsx(tmp_path / "r.xlsx", (3, 1)), 200_000)
    assert list(read_roster(path).frame["PartnerUserID"][:2]) == ["1", "2"]


@pytest.mark.parametrize(
    ("tail", "rows"),
    [(b"\n" * 3_000_000, 2), (b",,\r\n" * 1_000_000, 2), (b"\n\n", 2)],
    ids=["blank-lines", "comma-lines", "two-blank-lines"],
)
def test_empty_lines_at_the_end_are_dropped_unread(tmp_path: Path, tail: bytes, rows: int) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress\n1,a.x.glance.net\n2,b.x.glance.net\n" + tail)
    assert len(read_roster(path).frame) == rows


def test_millions_of_blank_lines_before_the_roster_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"\n" * 3_000_000 + b"PartnerUserID,UserAddress\n1,a.x.glance.net\n")
    with pytest.raises(RosterError, match=r"^the roster has 3,000,002 lines but only 39 char"):
        read_roster(path)


def test_a_line_of_millions_of_fields_is_refused_without_splitting_it(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress\n1,a.x.glance.net\n" + b"a," * 2_000_000)
    with pytest.raises(RosterError, match=r"^row 3 has 2,000,001 values, more than a spreadsh"):
        read_roster(path)


def test_quoted_delimiters_do_not_count_as_fields(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    notes = '"' + "," * 20_000 + '"'
    path.write_text(f"PartnerUserID,Notes\n1,{notes}\n", encoding="utf-8")
    assert read_roster(path).frame.loc[2, "Notes"] == "," * 20_000


def test_an_old_mac_file_with_cr_line_ends_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = [",".join(HEADER)] + [f"{n},u{n}.x.glance.net" for n in range(1, 20_001)]
    path.write_bytes(("\r".join(rows) + "\r").encode())
    assert len(read_roster(path).frame) == 20_000


def test_millions_of_cr_blank_lines_inside_an_lf_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress\n1,a.x.glance.net\n" + b",,\r" * 3_000_000
                     + b"\n2,b.x.glance.net\n")
    with pytest.raises(RosterError, match="most of its lines are empty"):
        read_roster(path)


def test_a_utf16_file_without_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes("PartnerUserID,UserAddress\n1,zoë.x.glance.net\n".encode(encoding))
        assert list(read_roster(path).frame["UserAddress"]) == ["zoë.x.glance.net"]


def test_a_single_quoted_stray_cell_is_refused_like_a_double_quoted_one(tmp_path: Path) -> None:
    path = sparse_xlsx(tmp_path / "r.xlsx", (2, 1))
    stray = b"<row r='1048576'><c r='XFD1048576' t='inlineStr'><is><t>x</t></is></c></row>"
    rewrite_part(path, "xl/worksheets/sheet1.xml",
                 lambda xml: xml.replace(b"</sheetData>", stray + b"</sheetData>"))
    with pytest.raises(RosterError, match="reaches past Excel's last cell|reaches XFD1048576"):
        read_roster(path)
