"""The results workbook, read back with openpyxl and as raw XML."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_provision.glance.models import AudioCodes
from bulk_provision.model import ActionKind, Outcome, RowResult
from bulk_provision.report import results as results_module
from bulk_provision.report.common import cell_text
from bulk_provision.report.results import RunSummary, split_results, write_results
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import Problem

PASSWORD = "Hunter2-Unique-Pw"
COLUMNS = ["PartnerUserID", "UserAddress", "UserPW", "UserFirst", "UserLast", "Notes"]
HEADERS = {"PartnerUserID": "Employee ID", "UserAddress": "Glance Address", "UserPW": "Password",
           "UserFirst": "First Name", "UserLast": "Last Name", "Notes": "Notes"}
TAIL = ["Row", "Action", "Outcome", "Message", "dialIn", "hostCode", "guestCode", "Attempts"]
FORMULAS = ["=1+2", "+33 6 12", "-x", "@SUM(A1)", "#N/A", "=HYPERLINK(\"http://x\")"]


def make_roster() -> Roster:
    rows = [
        ["E1", "ann.acme", PASSWORD, "Ann", "Lee", "first"],
        ["E2", "bob.acme", "", "Bob", "Ray", ""],
        ["E3", "bad address!", "", "Cy", "Day", ""],
        ["E4", "dee.acme", "", "Dee", "Fox", "tab\x01char"],
        ["E5", "eve.acme", "", FORMULAS[0], FORMULAS[1], FORMULAS[2]],
        ["E6", "fay.acme", "", FORMULAS[3], FORMULAS[4], FORMULAS[5]],
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS, index=range(2, 8))
    return Roster(Path("staff.xlsx"), frame, dict(HEADERS), "ab" * 32)


RESULTS = {
    2: RowResult("E1", 2, ActionKind.CREATE, Outcome.CREATED, "",
                 AudioCodes("+1 555 0100", "1111", "2222"), 1),
    3: RowResult("E2", 3, ActionKind.CREATE, Outcome.FAILED, "INVALID: UserAddress is taken",
                 attempts=3),
    6: RowResult("E5", 6, ActionKind.CREATE, Outcome.CREATED,
                 "created; no audio account was returned", attempts=1),
    7: RowResult("E6", 7, ActionKind.CREATE, Outcome.EXISTS, "already in Glance", attempts=1),
}
EXTRA = [
    RowResult("gone", None, ActionKind.SUSPEND, Outcome.SUSPENDED, "not in roster", attempts=1)
]
PROBLEMS = [
    Problem(4, "Glance Address", "bad address!", "address_chars", "Glance Address has a space"),
    Problem(4, "Glance Address", "bad address!", "address_chars", "Glance Address has a '!'"),
]
STARTED = datetime(2026, 3, 1, 9, 30, 0, tzinfo=UTC)
FINISHED = datetime(2026, 3, 1, 9, 31, 5, tzinfo=UTC)
SUMMARY = RunSummary("0.1.0", "/data/staff.xlsx", "ab" * 32, "sync", "https://127.0.0.1:8443",
                     STARTED, FINISHED, 1)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "staff.results.xlsx"
    write_results(path, make_roster(), RESULTS, PROBLEMS, SUMMARY, extra_results=EXTRA)
    return path


def load(path: Path) -> Any:
    return openpyxl.load_workbook(path)


def rows_of(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_sheets_in_order(book: Path) -> None:
    wb = load(book)
    assert wb.sheetnames == ["Summary", "Results", "Problems"]
    wb.close()


def test_summary_values_and_counts(book: Path) -> None:
    wb = load(book)
    assert rows_of(wb["Summary"]) == [
        ["Tool version", "0.1.0"],
        ["Roster", "/data/staff.xlsx"],
        ["Roster SHA-256", "ab" * 32],
        ["Mode", "sync"],
        ["Endpoint", "https://127.0.0.1:8443"],
        ["Started", "2026-03-01 09:30:00+00:00"],
        ["Finished", "2026-03-01 09:31:05+00:00"],
        ["created", 2], ["updated", 0], ["unchanged", 0], ["suspended", 1], ["reinstated", 0],
        ["deleted", 0], ["exists", 1], ["skipped", 0], ["invalid", 1], ["failed", 1],
        ["unfinished", 0],
        ["not attempted", 1], ["Total", 7],
        ["Exit code", 1],
    ]
    wb.close()


def test_results_rows_in_roster_order_then_extra(book: Path) -> None:
    wb = load(book)
    rows = rows_of(wb["Results"])
    wb.close()
    assert rows[0] == [HEADERS[c] for c in COLUMNS] + TAIL
    assert rows[1:] == [
        ["E1", "ann.acme", "***", "Ann", "Lee", "first",
         2, "create", "created", None, "+1 555 0100", "1111", "2222", 1],
        ["E2", "bob.acme", None, "Bob", "Ray", None,
         3, "create", "failed", "INVALID: UserAddress is taken", None, None, None, 3],
        ["E3", "bad address!", None, "Cy", "Day", None,
         4, None, "invalid", "Glance Address has a space; Glance Address has a '!'",
         None, None, None, 0],
        ["E4", "dee.acme", None, "Dee", "Fox", "tab\ufffdchar",
         5, None, "not attempted", None, None, None, None, 0],
        ["E5", "eve.acme", None, *FORMULAS[:3],
         6, "create", "created", "created; no audio account was returned", None, None, None, 1],
        ["E6", "fay.acme", None, *FORMULAS[3:],
         7, "create", "exists", "already in Glance", None, None, None, 1],
        ["gone"] + [None] * 6 + ["suspend", "suspended", "not in roster", None, None, None, 1],
    ]


def test_formula_looking_cells_stay_text(book: Path) -> None:
    wb = load(book)
    ws = wb["Results"]
    cells = [ws.cell(row, col) for row in (6, 7) for col in (4, 5, 6)]
    assert [c.value for c in cells] == FORMULAS
    assert {c.data_type for c in cells} == {"s"}
    assert all(isinstance(ws.cell(r, 7).value, int) for r in range(2, 8))  # Row
    assert all(isinstance(ws.cell(r, 14).value, int) for r in range(2, 9))  # Attempts
    wb.close()
    with zipfile.ZipFile(book) as zf:
        sheet = zf.read("xl/worksheets/sheet2.xml").decode()
    assert "<f>" not in sheet
    assert "'=1+2" not in sheet and ">=1+2<" in sheet


def test_password_masked_and_absent_from_every_part(book: Path) -> None:
    with zipfile.ZipFile(book) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    assert len(parts) > 5
    assert not [name for name, data in parts.items() if PASSWORD.encode() in data]
    assert b"***" in parts["xl/worksheets/sheet2.xml"]


def test_failed_and_invalid_rows_highlighted_only(book: Path) -> None:
    wb = load(book)
    ws = wb["Results"]
    for row in range(2, 9):
        colours = {ws.cell(row, col).fill.fgColor.rgb for col in range(1, 15)}
        kinds = {ws.cell(row, col).fill.fill_type for col in range(1, 15)}
        if row in (3, 4):  # failed, invalid: every cell, empty ones too
            assert kinds == {"solid"} and colours == {"00F8CBAD"}
        else:
            assert kinds == {None}
    assert ws.cell(1, 1).font.bold
    wb.close()


def test_header_frozen_filter_and_widths(book: Path) -> None:
    wb = load(book)
    ws = wb["Results"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:N8"
    widths = {col: ws.column_dimensions[col].width for col in "ABDJ"}
    assert widths["A"] == len("Employee ID") + 2
    assert widths["D"] == len("First Name") + 2
    assert widths["J"] == len("Glance Address has a space; Glance Address has a '!'") + 2
    wb.close()


def test_problems_linked_to_their_results_row(book: Path) -> None:
    wb = load(book)
    ws = wb["Problems"]
    values = rows_of(ws)
    assert values[0][:4] == ["Row", "Column", "Value", "Message"]
    assert [v[:4] for v in values[1:]] == [
        [4, "Glance Address", "bad address!", "Glance Address has a space"],
        [4, "Glance Address", "bad address!", "Glance Address has a '!'"],
    ]
    links = [ws.cell(r, 1).hyperlink for r in (2, 3)]
    assert [link.location for link in links] == ["'Results'!B4", "'Results'!B4"]
    assert wb["Results"]["B4"].value == "bad address!"
    wb.close()


def test_links_follow_results_rows_when_the_roster_skips_empty_rows(tmp_path: Path) -> None:
    frame = pd.DataFrame([["E1", "a.acme"], ["E9", "b c"]], columns=COLUMNS[:2], index=[2, 9])
    roster = Roster(Path("gappy.csv"), frame, {c: c for c in COLUMNS[:2]}, "cd" * 32)
    problem = Problem(9, "UserAddress", "b c", "address_chars", "UserAddress has a space")
    path = tmp_path / "gappy.xlsx"
    write_results(path, roster, {}, [problem], SUMMARY)
    wb = load(path)
    assert wb["Problems"]["A2"].hyperlink.location == "'Results'!B3"
    assert [r[2:5] for r in rows_of(wb["Results"])[1:]] == [
        [2, None, "not attempted"], [9, None, "invalid"]
    ]
    wb.close()


def test_split_results_separates_users_without_a_row() -> None:
    by_row, extra = split_results([*RESULTS.values(), *EXTRA])
    assert by_row == RESULTS
    assert extra == EXTRA


def test_failed_write_keeps_old_file_and_leaves_no_temp(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = book.read_bytes()

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(results_module, "splice_rows", broken)
    with pytest.raises(OSError, match="disk full"):
        write_results(book, make_roster(), {}, [], SUMMARY)
    assert book.read_bytes() == before
    assert [p.name for p in book.parent.iterdir()] == [book.name]


def test_rewrite_replaces_the_file_with_no_temp_left(book: Path) -> None:
    write_results(book, make_roster(), {}, [], SUMMARY)
    assert [p.name for p in book.parent.iterdir()] == [book.name]
    wb = load(book)
    assert [r[8] for r in rows_of(wb["Results"])[1:]] == ["not attempted"] * 6
    assert wb["Problems"].max_row == 1
    wb.close()



def _escaped_text_xml(value: str) -> str:
    """How every cell's text was written before the fast path: the reference."""
    value = value[:32767]
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f"<t{space}>{escape(cell_text(value), {chr(13): '&#13;'})}</t>"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "Z", " ", "\t", "\r", "\n", "&", "<", ">", "_",
                                         "x", "0", "F", "\x01", "\ufffe", "é", "雪", '"',
                                         "\u00a0"]), max_size=14))
def test_plain_cell_text_skips_the_escaping_and_is_written_the_same(text: str) -> None:
    assert results_module._text_xml(text) == _escaped_text_xml(text)


def test_the_fast_path_keeps_the_cell_limit_and_the_escapes() -> None:
    for text in ["A" * 40000, "_x0041_", "a&b", " lead", "x\r", "plain name"]:
        assert results_module._text_xml(text) == _escaped_text_xml(text)
