"""Waves: ``--rows`` / ``--where`` / ``--first`` read into a Selection, and the rows it picks."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bulk_provision.errors import UsageError
from bulk_provision.roster.read import read_roster
from bulk_provision.roster.selection import describe, select_rows
from bulk_provision.settings.selection import Condition, Selection, parse_selection, wave_tag

HEADER = ["Employee ID", "Glance Address", "Password", "Department", "Site"]


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(10):  # rows 2-11
            w.writerow([f"{i:03d}", f"u{i}.demo.glance.net", "Secret-pw-1",
                        ["Sales", " sales ", "Care"][i % 3], "Leeds" if i < 5 else "York"])
        w.writerow([""] * len(HEADER))  # row 12: empty, dropped
        w.writerow(["010", "u10.demo.glance.net", "", "Care", "York"])  # row 13
    return path


def pick(path: Path, rows: str | None = None, where: list[str] | None = None,
         first: object = None) -> list[int]:
    selection = parse_selection(rows, where, first)
    return list(select_rows(read_roster(path), selection).frame.index)


def test_no_option_is_no_selection_and_the_whole_roster() -> None:
    assert parse_selection(None, None, None) is None
    assert parse_selection(None, [], None) is None


def test_the_selection_reads_back_as_plain_text_and_through_a_plans_json() -> None:
    selection = parse_selection(" 2-21, 40 ,7-7", ["Department = Sales, Care", "Site=Leeds"], "20")
    assert selection == Selection(((2, 21), (40, 40)),  # 7-7 is inside 2-21
                                  (Condition("Department", ("Sales", "Care")),
                                   Condition("Site", ("Leeds",))), 20)
    assert selection.text == "rows 2-21,40; Department=Sales,Care; Site=Leeds; first 20"
    assert Selection.from_json(selection.to_json()) == selection


def test_a_waves_file_tag_is_safe_readable_and_unique_per_text() -> None:
    tag = wave_tag("rows 2-21; Department=Sales")
    assert tag.startswith(".rows-2-21-Department-Sales-") and len(tag) <= 48
    assert wave_tag("rows 2-21; Department=sales") != tag
    assert wave_tag("Abteilung=Kundendienst/Ära") .replace(".", "", 1).replace("-", "").isalnum()
    assert wave_tag("Département=é").startswith(".D-partement-")
    assert wave_tag("") == ""


@pytest.mark.parametrize(("rows", "said"), [
    ("5-2", "--rows 5-2 goes backwards: write the lower row first (--rows 2-5)"),
    ("abc", "--rows 'abc' is not a list of row numbers"),
    ("2-", "is not a list of row numbers"),
    ("2,,3", "is not a list of row numbers"),
    ("1-4", "row 1 is the header; people start at row 2"),
    ("0", "row 1 is the header"),
    ("-3", "is not a list of row numbers"),
    ("2.5", "is not a list of row numbers"),
    ("1" * 12, "is not a list of row numbers"),
])
def test_malformed_rows_are_refused_in_one_line(rows: str, said: str) -> None:
    with pytest.raises(UsageError, match=None) as caught:
        parse_selection(rows, None, None)
    assert said in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("first", ["0", "-1", "abc", "2.0", "", "1e3"])
def test_first_must_be_a_whole_number_from_one(first: str) -> None:
    with pytest.raises(UsageError, match="--first .*a whole number from 1"):
        parse_selection(None, None, first)


@pytest.mark.parametrize("where", ["Department", "=Sales", "  = x"])
def test_where_needs_a_column_and_an_equals_sign(where: str) -> None:
    with pytest.raises(UsageError, match="needs COLUMN=VALUE"):
        parse_selection(None, [where], None)


def test_rows_are_the_spreadsheet_row_numbers(roster_file: Path) -> None:
    assert pick(roster_file, "2-4,9,13") == [2, 3, 4, 9, 13]
    assert pick(roster_file, "11-13") == [11, 13]  # row 12 is empty: not a person
    assert pick(roster_file, "9-10,2-5,4-6,13,3") == [2, 3, 4, 5, 6, 9, 10, 13]  # merged
    assert pick(roster_file, "2,4,6,8,10,13") == [2, 4, 6, 8, 10, 13]  # the page's many rows


def test_where_matches_the_header_or_the_glance_name_without_case_or_spaces(
    roster_file: Path,
) -> None:
    sales = [2, 3, 5, 6, 8, 9, 11]
    assert pick(roster_file, where=["department=SALES"]) == sales
    assert pick(roster_file, where=["Employee ID=000,004"]) == [2, 6]
    assert pick(roster_file, where=["PartnerUserID=000,004"]) == [2, 6]
    assert pick(roster_file, where=["employee-id=004"]) == [6]  # as headers are matched
    assert pick(roster_file, where=["Department=Care,Sales", "Site=York"]) == [7, 8, 9, 10, 11,
                                                                               13]


def test_first_takes_the_first_rows_the_rest_of_the_selection_leaves(roster_file: Path) -> None:
    assert pick(roster_file, first="3") == [2, 3, 4]
    assert pick(roster_file, "5-13", ["Site=York"], "2") == [7, 8]
    assert pick(roster_file, first="500") == [*range(2, 12), 13]


def test_rows_beyond_the_roster_say_how_many_people_it_has(roster_file: Path) -> None:
    with pytest.raises(UsageError) as caught:
        pick(roster_file, "10-14")
    assert str(caught.value) == ("--rows 10-14 goes beyond the roster: staff.csv has 11 people, "
                                 "in rows 2-13")


def test_an_empty_selection_is_refused(roster_file: Path) -> None:
    with pytest.raises(UsageError) as caught:
        pick(roster_file, "2-4", ["Site=York"])
    assert str(caught.value) == ("no rows match rows 2-4; Site=York in staff.csv (11 people, "
                                 "in rows 2-13); nothing was sent")


def test_an_unknown_where_column_names_the_columns_there_are(roster_file: Path) -> None:
    with pytest.raises(UsageError) as caught:
        pick(roster_file, where=["Dept=Sales"])
    assert str(caught.value) == (
        "--where Dept: staff.csv has no column 'Dept'; its columns are Employee ID "
        "(PartnerUserID), Glance Address (UserAddress), Password (UserPW), Department, Site")


def test_a_password_column_cannot_pick_a_wave(roster_file: Path) -> None:
    with pytest.raises(UsageError, match="a password column cannot pick a wave"):
        pick(roster_file, where=["Password=Secret-pw-1"])


def test_the_wave_keeps_only_its_rows_warnings_and_words(roster_file: Path) -> None:
    roster = read_roster(roster_file)
    selection = parse_selection("2-4", ["Site=Leeds"], "2")
    assert selection is not None
    wave = select_rows(roster, selection)
    assert list(wave.frame.index) == [2, 3]
    assert len(roster.frame) == 11  # the roster read is left as it was
    assert wave.sha256 == roster.sha256  # the file is the same file
    assert describe(selection, wave) == (
        "rows 2-4 of staff.csv where Site is Leeds, the first 2 (2 people)")
    one = parse_selection("7", None, None)
    assert one is not None
    assert describe(one, select_rows(roster, one)) == "row 7 of staff.csv (1 person)"


@pytest.mark.parametrize("text", ["٣", "２-３", "2\n-3"])
def test_rows_take_plain_digits_only(text: str) -> None:
    from bulk_provision.errors import UsageError
    from bulk_provision.settings.selection import parse_rows

    with pytest.raises(UsageError, match="is not a list of row numbers"):
        parse_rows(text)


def test_the_same_rows_written_two_ways_are_the_same_wave() -> None:
    from bulk_provision.settings.selection import parse_rows, parse_selection

    assert parse_rows("2-3,3-4") == parse_rows("4, 2-3") == parse_rows("2-4") == ((2, 4),)
    assert parse_rows("9,2,3,4") == ((2, 4), (9, 9))
    one, other = parse_selection("2-3,3-4", None, None), parse_selection("2-4", None, None)
    assert one is not None and other is not None and one.text == other.text == "rows 2-4"
