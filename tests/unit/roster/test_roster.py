"""read_roster: CSV and Excel files written by the tests, read back as text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from bulk_provision.errors import ConfigError, RosterError
from bulk_provision.roster.read import canonical_column, read_roster
from bulk_provision.settings.columns import load_column_map

HEADER = "PartnerUserID,UserAddress,UserFirst,UserLast,UserEmail"
ROW = "00123,jose.nunez.demo.glance.net,José,Núñez,jose@example.com"


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, rows: list[list[object]], name: str = "r.xlsx") -> Path:
    """An xlsx made by xlsxwriter; strings are written as strings (never turned into numbers)."""
    path = tmp_path / name
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Roster")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, value, date_format)
            elif value is not None:
                sheet.write(r, c, value)
    workbook.close()
    return path


# --- CSV: encodings, delimiters, text fidelity -------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = f"{HEADER}\r\n{ROW}\r\n"
    if encoding == "utf-16-le":  # no byte-order mark at all
        path = write_csv(tmp_path, text, "utf-16-le")
    else:
        path = write_csv(tmp_path, text, encoding)
    roster = read_roster(path)
    assert roster.frame.loc[2, "UserFirst"] == "José"
    assert roster.frame.loc[2, "UserLast"] == "Núñez"
    assert roster.frame.loc[2, "PartnerUserID"] == "00123"
    assert list(roster.frame.columns) == HEADER.split(",")


def test_utf16_big_endian_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xfe\xff" + f"{HEADER}\n{ROW}\n".encode("utf-16-be"))
    assert read_roster(path).frame.loc[2, "UserLast"] == "Núñez"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    text = f"{HEADER}\n{ROW}\n".replace(",", delimiter)
    roster = read_roster(write_csv(tmp_path, text))
    assert roster.frame.loc[2, "UserAddress"] == "jose.nunez.demo.glance.net"


def test_tsv_is_always_tab_separated(tmp_path: Path) -> None:
    # The header has more commas than tabs, but .tsv means tab.
    path = write_csv(tmp_path, "PartnerUserID\tNotes\n7\ta, b, c\n", name="r.tsv")
    assert read_roster(path).frame.loc[2, "Notes"] == "a, b, c"


def test_every_cell_is_text_and_nothing_is_converted(tmp_path: Path) -> None:
    text = "PartnerUserID,AudioProvider,Notes,When\n00123,1,1.2E+5,2024-03-01\n007,,NA,TRUE\n"
    roster = read_roster(write_csv(tmp_path, text))
    frame = roster.frame
    assert frame.loc[2].tolist() == ["00123", "1", "1.2E+5", "2024-03-01"]
    assert frame.loc[3].tolist() == ["007", "", "NA", "TRUE"]
    assert all(frame[c].dtype == object for c in frame.columns)
    assert all(type(v) is str for v in frame.to_numpy().ravel())
    assert roster.warnings == []


def test_row_numbers_survive_empty_rows_and_multiline_values(tmp_path: Path) -> None:
    text = (
        "PartnerUserID,Notes\r\n"
        "1,one\r\n"
        "\r\n"  # row 3: empty, dropped
        ",\n"  # row 4: only a delimiter, dropped
        '2,"two\nlines"\r'  # row 5: one record over two physical lines; old Mac line end
        "3,three\n"  # row 6
    )
    frame = read_roster(write_csv(tmp_path, text)).frame
    assert frame.index.tolist() == [2, 5, 6]
    assert frame.loc[5, "Notes"] == "two\nlines"
    assert frame.loc[6, "PartnerUserID"] == "3"


def test_whitespace_and_invisible_characters_are_trimmed(tmp_path: Path) -> None:
    text = "\ufeff PartnerUserID\u00a0, First Name \n\u00a0 0042 \t,\u200bZoë\u00a0\n"
    roster = read_roster(write_csv(tmp_path, text, "utf-8"))
    assert roster.frame.loc[2].tolist() == ["0042", "Zoë"]
    assert roster.headers == {"PartnerUserID": "PartnerUserID", "UserFirst": "First Name"}


def test_rows_longer_than_the_header_are_kept_in_an_extra_column(tmp_path: Path) -> None:
    text = "PartnerUserID,UserAddress\n1,a.glance.net\n2,b.glance.net,stray\n"
    frame = read_roster(write_csv(tmp_path, text)).frame
    assert list(frame.columns) == ["PartnerUserID", "UserAddress", "Column C"]
    assert frame.loc[3, "Column C"] == "stray"
    assert frame.loc[2, "Column C"] == ""


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = write_csv(tmp_path, f"{HEADER}\n{ROW}\n")
    assert read_roster(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --- Headers: aliases, --columns, unknown and duplicate columns --------------------------------


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("Employee ID", "PartnerUserID"),
        ("employee_number", "PartnerUserID"),
        ("ID", "PartnerUserID"),
        ("partner-user-id", "PartnerUserID"),
        ("Glance Address", "UserAddress"),
        ("USERNAME", "UserAddress"),
        ("Password", "UserPW"),
        ("Given Name", "UserFirst"),
        ("Surname", "UserLast"),
        ("E-mail", "UserEmail"),
        ("Email Address", "UserEmail"),
        ("role", "UserRole"),
        ("Audio Provider", "AudioProvider"),
        ("Operation", "Action"),
        ("Favourite colour", None),
    ],
)
def test_canonical_column_aliases(header: str, canonical: str | None) -> None:
    assert canonical_column(header) == canonical


def test_unknown_columns_are_kept_in_file_order(tmp_path: Path) -> None:
    text = "Cost Centre,Employee ID,Notes,Email,Notes\nCC1,42,n1,a@b.c,n2\n"
    roster = read_roster(write_csv(tmp_path, text))
    assert list(roster.frame.columns) == [
        "Cost Centre",
        "PartnerUserID",
        "Notes",
        "UserEmail",
        "Notes (2)",
    ]
    assert roster.frame.loc[2, "Notes (2)"] == "n2"
    assert roster.headers["Notes (2)"] == "Notes"
    assert roster.headers["PartnerUserID"] == "Employee ID"


def test_two_headers_for_one_column_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Email,E-mail\na@b.c,a@b.c\n")
    with pytest.raises(RosterError, match=r'"Email" \(A\) and "E-mail" \(B\) both mean UserEmail'):
        read_roster(path)


def test_duplicate_known_header_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "PartnerUserID,Notes,PartnerUserID\n1,x,2\n")
    with pytest.raises(RosterError, match="both mean PartnerUserID"):
        read_roster(path)


def test_column_map_wins_over_aliases(tmp_path: Path) -> None:
    map_path = tmp_path / "columns.toml"
    map_path.write_text('"Staff No" = "PartnerUserID"\n"ID" = "UserAddress"\n', encoding="utf-8")
    column_map = load_column_map(map_path)
    assert column_map == {"Staff No": "PartnerUserID", "ID": "UserAddress"}
    path = write_csv(tmp_path, "Staff No,ID\n0099,ann.demo.glance.net\n")
    roster = read_roster(path, column_map=column_map)
    assert roster.frame.loc[2].to_dict() == {
        "PartnerUserID": "0099",
        "UserAddress": "ann.demo.glance.net",
    }


def test_column_map_under_a_columns_table(tmp_path: Path) -> None:
    map_path = tmp_path / "columns.toml"
    map_path.write_text('[columns]\n"Badge" = "partner user id"\n', encoding="utf-8")
    assert load_column_map(map_path) == {"Badge": "PartnerUserID"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('"Staff" = "Nickname"\n', "is not a known column"),
        ('"Staff" = 3\n', "is not a known column"),
        ("this is = not toml = at all\n", "is not valid TOML"),
        ("", "is empty"),
    ],
)
def test_bad_column_map_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    map_path = tmp_path / "columns.toml"
    map_path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_column_map(map_path)


def test_missing_column_map_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_column_map(tmp_path / "nope.toml")


# --- Excel ---------------------------------------------------------------------------------------


def test_xlsx_written_by_xlsxwriter(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        [
            ["Employee ID", "First Name", "Last Name", "Audio Provider", "Hired"],
            ["00123", " José ", "Núñez", 1, dt.date(2024, 3, 1)],
            [120000, "Zoë", "Smith", 666.0, None],
        ],
    )
    roster = read_roster(path)
    assert roster.sheet == "Roster"
    assert roster.frame.loc[2].tolist() == ["00123", "José", "Núñez", "1", "2024-03-01"]
    assert roster.frame.loc[3].tolist() == ["120000", "Zoë", "Smith", "666", ""]
    assert [(w.row, w.column) for w in roster.warnings] == [
        (2, "AudioProvider"),
        (2, "Hired"),
        (3, "PartnerUserID"),
        (3, "AudioProvider"),
    ]
    id_warning = roster.warnings[2]
    assert str(id_warning) == (
        "row 3, PartnerUserID: Excel stored this cell as a number (120000); it was read as the "
        "text 120000 — format the column as Text in Excel to be sure"
    )
    assert "date" in roster.warnings[1].message


def test_xlsx_written_by_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "People"
    sheet.append(["PartnerUserID", "UserAddress", "Notes", "Active", "Rate"])
    sheet.append(["0007", "ann.demo.glance.net", None, True, 0.1])
    sheet.append([None, None, None, None, None])
    sheet.append([8, "bob.demo.glance.net", "=1+1", False, 1e-7])
    sheet["C4"] = "=2*21"  # openpyxl writes no cached value: the cell reads empty
    workbook.save(path)
    roster = read_roster(path)
    assert roster.sheet == "People"
    assert roster.frame.index.tolist() == [2, 4]
    assert roster.frame.loc[2].tolist() == ["0007", "ann.demo.glance.net", "", "TRUE", "0.1"]
    assert roster.frame.loc[4, "PartnerUserID"] == "8"
    assert roster.frame.loc[4, "Active"] == "FALSE"
    assert roster.frame.loc[4, "Rate"] == "0.0000001"
    assert {(w.row, w.column) for w in roster.warnings} == {
        (2, "Active"),
        (2, "Rate"),
        (4, "PartnerUserID"),
        (4, "Active"),
        (4, "Rate"),
    }


def test_formulas_yield_their_cached_values(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["PartnerUserID", "UserAddress"])
    sheet.write_formula(1, 0, '="00"&"42"', None, "0042")
    sheet.write_formula(1, 1, '=LOWER("ANN")&".demo.glance.net"', None, "ann.demo.glance.net")
    workbook.close()
    assert read_roster(path).frame.loc[2].tolist() == ["0042", "ann.demo.glance.net"]


def test_merged_cells_keep_the_value_in_the_top_left_cell(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["PartnerUserID", "UserFirst", "UserLast"])
    sheet.merge_range(1, 1, 2, 2, "Team")
    sheet.write_string(1, 0, "1")
    sheet.write_string(2, 0, "2")
    workbook.close()
    frame = read_roster(path).frame
    assert frame.loc[2].tolist() == ["1", "Team", ""]
    assert frame.loc[3].tolist() == ["2", "", ""]


def test_hidden_sheets_are_skipped_and_sheet_picks_one(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    hidden = workbook.add_worksheet("Lookup")
    hidden.write_row(0, 0, ["Code", "Meaning"])
    hidden.write_row(1, 0, ["x", "y"])
    hidden.hide()
    first = workbook.add_worksheet("Staff")
    first.write_row(0, 0, ["PartnerUserID", "UserAddress"])
    first.write_row(1, 0, ["1", "a.demo.glance.net"])
    first.activate()
    other = workbook.add_worksheet("Contractors")
    other.write_row(0, 0, ["PartnerUserID", "UserAddress"])
    other.write_row(1, 0, ["C1", "c.demo.glance.net"])
    workbook.close()
    assert read_roster(path).sheet == "Staff"
    picked = read_roster(path, sheet="contractors")
    assert picked.sheet == "Contractors"
    assert picked.frame.loc[2, "PartnerUserID"] == "C1"
    assert read_roster(path, sheet="Lookup").frame.loc[2, "Code"] == "x"
    with pytest.raises(RosterError, match='no sheet "Temps"; its sheets are: "Lookup", "Staff"'):
        read_roster(path, sheet="Temps")


def test_header_may_follow_blank_rows_and_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [[], [], ["", "PartnerUserID", "UserAddress"], ["", "9", "x.y"]])
    frame = read_roster(path).frame
    assert frame.index.tolist() == [4]
    assert list(frame.columns) == ["PartnerUserID", "UserAddress"]


def test_zero_padded_number_format_reads_as_excel_shows_it(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    padded = workbook.add_format({"num_format": "00000"})
    sheet.write_row(0, 0, ["UserAddress", "PartnerUserID", "AudioProvider"])
    sheet.write_row(1, 0, ["a.demo.glance.net"])
    sheet.write_number(1, 1, 123, padded)
    sheet.write_number(1, 2, 1, workbook.add_format({"num_format": "0.00"}))
    sheet.write_row(2, 0, ["b.demo.glance.net"])
    sheet.write_number(2, 1, 123456, padded)  # wider than the format: shown in full
    workbook.close()
    roster = read_roster(path)
    assert roster.frame["PartnerUserID"].tolist() == ["00123", "123456"]
    assert roster.frame["AudioProvider"].tolist() == ["1", ""]
    assert roster.warnings[0].message.startswith(
        "Excel stored this cell as a number (123 shown as 00123); it was read as the text 00123"
    )


def test_zero_padded_format_written_by_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["PartnerUserID", "UserAddress"])
    sheet.append([42, "a.demo.glance.net"])
    sheet["A2"].number_format = "000000"
    book.save(path)
    assert read_roster(path).frame.loc[2, "PartnerUserID"] == "000042"
