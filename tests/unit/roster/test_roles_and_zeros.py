"""Two mistakes caught before Start: a misspelt role (beside the roles Glance lists) and an
Employee ID that lost its leading zeros (Excel stored it as a number)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from bulk_provision.roster.read import read_roster
from bulk_provision.roster.roles import role_typos, unlisted_roles
from bulk_provision.roster.validation import validate_roster


def roster(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "r.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["PartnerUserID", "UserAddress", "UserRole"])
        for i, (key, role) in enumerate(rows):
            w.writerow([key, f"u{i}.demo.glance.net", role])
    return path


def test_a_role_spelt_like_a_listed_one_is_a_typo_and_another_is_only_named() -> None:
    frame = pd.DataFrame({"UserRole": ["Agent", "Supervisr", "", "-none-", "supervisor",
                                       "Night Team", "Supervisr"]}, index=range(2, 9))
    typos = role_typos(frame, ["Agent", "Supervisor"])
    assert [(row, value) for row, value, _ in typos] == [(3, "Supervisr"), (8, "Supervisr")]
    assert 'did you mean "Supervisor"?' in typos[0][2]
    assert unlisted_roles(frame, ["Agent", "Supervisor"]) == ["Night Team"]
    assert role_typos(frame, []) == []  # nothing listed: nothing to compare with


def test_validation_with_the_listed_roles_makes_the_typo_a_problem(tmp_path: Path) -> None:
    path = roster(tmp_path, [("a1", "Agent"), ("a2", "Supervisr")])
    result = validate_roster(read_roster(path), listed_roles=["Agent", "Supervisor"])
    assert [(p.row, p.column, p.rule) for p in result.problems] == [
        (3, "UserRole", "UserRole.glance")]
    assert validate_roster(read_roster(path)).problems == []  # without Glance: unchecked


def workbook(tmp_path: Path, ids: list[object]) -> Path:
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Employee ID", "UserAddress"])
    for i, key in enumerate(ids):
        sheet.append([key, f"u{i}.demo.glance.net"])
    path = tmp_path / "staff.xlsx"
    book.save(path)
    return path


def test_an_id_excel_stored_as_a_number_beside_zero_padded_ids_is_a_problem(
    tmp_path: Path,
) -> None:
    path = workbook(tmp_path, ["000104", "000111", 125, "000130"])
    result = validate_roster(read_roster(path))
    assert [(p.row, p.column, p.value, p.rule) for p in result.problems] == [
        (4, "Employee ID", "125", "PartnerUserID.zeros")]
    assert "type 000125" in result.problems[0].message
    assert "added to Glance a second time" in result.problems[0].message


def test_short_ids_typed_as_text_or_numbers_among_numbers_are_not_a_problem(
    tmp_path: Path,
) -> None:
    text = roster(tmp_path, [("00001", ""), ("00002", ""), ("7", "")])  # CSV: text only
    assert validate_roster(read_roster(text)).problems == []
    typed = workbook(tmp_path, ["000104", 125, "abc"])  # one zero-padded ID: no pattern
    assert validate_roster(read_roster(typed)).problems == []
    numbers = workbook(tmp_path, [104, 111, 125])  # all numbers, none padded: no pattern
    assert validate_roster(read_roster(numbers)).problems == []
