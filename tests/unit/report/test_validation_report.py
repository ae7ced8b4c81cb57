"""The ``validate --report`` workbook, read back with openpyxl."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook

from bulk_provision.cli import main
from bulk_provision.report.common import BAD_FILL
from bulk_provision.report.problems import write_problems_sheet
from bulk_provision.roster.validation import Problem
from tests.e2e.test_cli_validate import BAD_ROWS, GOOD_ROWS, write_csv

SECRETS = ("Pw1x5", "Tiny1", "Secret-Pass1")


@pytest.fixture
def report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    roster = write_csv(tmp_path / "staff.csv", [*GOOD_ROWS, "", *BAD_ROWS])
    out = tmp_path / "problems.xlsx"
    assert main(["validate", str(roster), "--report", str(out)]) == 3
    assert capsys.readouterr().out.splitlines()[-1] == f"Report: {out}"
    return out


@pytest.fixture
def book(report: Path) -> Workbook:
    return openpyxl.load_workbook(report)


def test_report_has_problems_then_roster(book: Workbook) -> None:
    assert book.sheetnames == ["Problems", "Roster"]


def test_problems_sheet_lists_row_column_value_message(book: Workbook) -> None:
    ws = book["Problems"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Row", "Column", "Value", "Message", "Rule")
    assert rows[1] == (
        2, "Employee ID", "00123", "PartnerUserID 00123 also appears in row 6",
        "PartnerUserID.unique",
    )
    assert (5, "Password", "***", "UserPW must be at least 8 characters (has 5)",
            "UserPW.length") in rows
    assert len(rows) == 1 + 9
    assert ws.freeze_panes == "A2"


def test_each_problem_links_to_its_cell_in_the_roster_sheet(book: Workbook) -> None:
    ws = book["Problems"]
    links = {
        (row[0].value, row[1].value): row[0].hyperlink.location
        for row in ws.iter_rows(min_row=2)
    }
    assert links[(2, "Employee ID")] == "'Roster'!A2"
    assert links[(5, "Email")] == "'Roster'!E5"
    assert links[(7, "Password")] == "'Roster'!C7"


def test_roster_sheet_keeps_headers_row_numbers_and_masks_passwords(book: Workbook) -> None:
    ws = book["Roster"]
    assert [c.value for c in ws[1]] == [
        "Employee ID", "Glance Address", "Password", "First Name", "Email", "AudioProvider",
        "Role", "Cost Centre",
    ]
    assert all(c.value is None for c in ws[4])  # the blank line in the file
    assert [c.value for c in ws[5]][:3] == ["00125", "bad address.glance.net", "***"]
    assert ws["C2"].value == "***" and ws["C3"].value is None
    assert ws.freeze_panes == "A2"


def test_broken_cells_are_filled_and_commented(book: Workbook) -> None:
    ws = book["Roster"]
    email = ws["E5"]
    assert email.fill.fgColor.rgb == BAD_FILL.fgColor.rgb
    assert email.comment.text == "UserEmail 'zoe@' is not a valid email address"
    address = ws["B5"]
    assert address.comment.text == (
        "UserAddress may contain only letters, digits, '.' and '-' (found ' ')"
    )
    fine = ws["D5"]
    assert fine.comment is None and fine.fill.fgColor.rgb != BAD_FILL.fgColor.rgb


def test_formula_looking_values_stay_text(book: Workbook) -> None:
    ws = book["Roster"]
    cells = [ws["H2"], ws["H3"], ws["H5"], ws["H6"]]
    assert [c.value for c in cells] == ["=1+2", "@SUM(A1)", "+33", "-x"]
    assert all(c.data_type == "s" for c in cells)


def test_password_appears_nowhere_in_the_file(report: Path) -> None:
    with zipfile.ZipFile(report) as archive:
        text = b"".join(archive.read(name) for name in archive.namelist())
    for secret in SECRETS:
        assert secret.encode() not in text


def test_problems_sheet_can_link_through_a_row_lookup() -> None:
    wb = openpyxl.Workbook()
    problems = [Problem(9, "Email", "=HYPERLINK(\"x\")", "UserEmail.format", "bad")]
    write_problems_sheet(wb, problems, link_sheet="My Results", row_lookup={9: 4})
    ws = wb["Problems"]
    assert ws["A2"].hyperlink.location == "'My Results'!A4"
    assert ws["C2"].value == '=HYPERLINK("x")' and ws["C2"].data_type == "s"


def test_problems_sheet_without_link_sheet_has_no_links() -> None:
    wb = openpyxl.Workbook()
    write_problems_sheet(wb, [Problem(3, "X", "", "r", "m")], link_sheet=None, row_lookup=None)
    assert wb["Problems"]["A2"].hyperlink is None


def test_unwritable_report_path_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = write_csv(tmp_path / "staff.csv", GOOD_ROWS)
    out = tmp_path / "missing-folder" / "r.xlsx"
    assert main(["validate", str(roster), "--report", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"bulk-provision: error: cannot write {out}")


def test_flagged_formula_looking_cell_stays_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = write_csv(
        tmp_path / "r.csv", ["1,a.glance.net,=HYPERLINK(\"http://x\")"],
        header="PartnerUserID,UserAddress,UserEmail",
    )
    out = tmp_path / "r.xlsx"
    assert main(["validate", str(roster), "--report", str(out)]) == 3
    book = openpyxl.load_workbook(out)
    cell = book["Roster"]["C2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x")', "s")
    assert cell.comment.text == "UserEmail '=HYPERLINK(\"http://x\")' is not a valid email address"
    value = book["Problems"]["C2"]
    assert (value.value, value.data_type) == ('=HYPERLINK("http://x")', "s")
