"""What reading a roster costs is bounded by its size (DESIGN.md section 11, docs/operations.md):
a sparse sheet or a ragged CSV is refused, or read without its empty cells, before any grid."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter

from bulk_provision.cli import main
from bulk_provision.errors import RosterError
from bulk_provision.roster.read import read_roster

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
