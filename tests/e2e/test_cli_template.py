"""``bulk-provision template``: the empty roster workbook, read back with openpyxl."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook

from bulk_provision.cli import main
from bulk_provision.columns import CANONICAL_COLUMNS


@pytest.fixture
def template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "staff.xlsx"
    assert main(["template", str(path)]) == 0
    assert capsys.readouterr().out == f"Template written: {path}\n"
    return path


@pytest.fixture
def book(template: Path) -> Workbook:
    return openpyxl.load_workbook(template)


def test_roster_sheet_has_bold_frozen_canonical_headers(book: Workbook) -> None:
    assert book.sheetnames == ["Roster", "Notes"]
    ws = book["Roster"]
    assert tuple(c.value for c in ws[1]) == CANONICAL_COLUMNS
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.max_row == 1


def test_columns_are_text_formatted(book: Workbook) -> None:
    ws = book["Roster"]
    assert [ws.column_dimensions[letter].number_format for letter in "ABCDEFGHI"] == ["@"] * 9


def validations(book: Workbook) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    found = {}
    for dv in book["Roster"].data_validations.dataValidation:
        found[str(dv.sqref)] = (dv.type, dv.operator, dv.formula1, dv.formula2)
    return found


def test_data_validation_where_excel_can_enforce_it(book: Workbook) -> None:
    assert validations(book) == {
        "A2:A10001": ("textLength", "lessThanOrEqual", "255", None),
        "B2:B10001": ("textLength", "lessThanOrEqual", "127", None),
        "C2:C10001": ("textLength", "between", "8", "49"),
        "D2:D10001": ("textLength", "lessThanOrEqual", "49", None),
        "E2:E10001": ("textLength", "lessThanOrEqual", "49", None),
        "F2:F10001": ("textLength", "lessThanOrEqual", "127", None),
        "G2:G10001": ("textLength", "lessThanOrEqual", "70", None),
        "H2:H10001": ("list", None, '"1,666"', None),
        "I2:I10001": ("list", None, '"create,update,suspend,reinstate,delete"', None),
    }


def test_validations_allow_blanks_and_explain_the_rule(book: Workbook) -> None:
    for dv in book["Roster"].data_validations.dataValidation:
        assert dv.allow_blank and dv.showErrorMessage
        assert dv.error and len(dv.error) <= 255
    by_range = {str(dv.sqref): dv for dv in book["Roster"].data_validations.dataValidation}
    assert by_range["C2:C10001"].error.startswith("Optional. If given, 8 to 49 characters.")


def test_notes_sheet_explains_every_column(book: Workbook) -> None:
    rows = list(book["Notes"].iter_rows(values_only=True))
    assert rows[0][0].startswith("Fill in one person per row on the Roster sheet")
    assert rows[2] == ("Column", "Also called", "Required", "What to put in it")
    notes = {row[0]: row[1:] for row in rows[3:]}
    assert list(notes) == list(CANONICAL_COLUMNS)
    assert notes["PartnerUserID"][:2] == ("Employee ID", "yes")
    assert notes["UserAddress"][1] == "yes"
    assert notes["UserPW"][1] == "no"
    assert "letters, digits, '.' and '-' only" in notes["UserAddress"][2]
    assert "1 = Glance Free Conferencing" in notes["AudioProvider"][2]


def test_filled_template_validates(template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wb = openpyxl.load_workbook(template)
    wb["Roster"].append(["00042", "jane.example.glance.net", "", "Jane", "Doe", "", "", "1", ""])
    wb.save(template)
    assert main(["validate", str(template)]) == 0
    assert "Rows: 1  valid: 1  invalid: 0" in capsys.readouterr().out


def test_existing_file_is_kept_without_force(
    template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template.write_bytes(b"precious")
    assert main(["template", str(template)]) == 2
    assert capsys.readouterr().err == (
        f"bulk-provision: error: {template} already exists; use --force to replace it\n"
    )
    assert template.read_bytes() == b"precious"
    assert main(["template", str(template), "--force"]) == 0
    assert openpyxl.load_workbook(template).sheetnames == ["Roster", "Notes"]


@pytest.mark.parametrize("name", ["staff.csv", "staff.xls", "staff"])
def test_non_xlsx_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / name
    assert main(["template", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"bulk-provision: error: {path}: the template is an Excel workbook, name it .xlsx\n"
    )
    assert not path.exists()


def test_missing_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope" / "t.xlsx"
    assert main(["template", str(path)]) == 2
    assert "does not exist" in capsys.readouterr().err
