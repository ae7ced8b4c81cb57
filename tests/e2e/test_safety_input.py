"""DESIGN.md section 11 on the input side (issue 9): repeated values, password-like headers, control
characters, report cells, unique Results headers, look-alike IDs and warnings in run and plan."""

from __future__ import annotations

import csv
import random
import re
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from bulk_provision.cli import main
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind, Outcome, RowResult
from bulk_provision.roster.read import Roster, looks_like_password, read_roster
from bulk_provision.roster.validation import validate_roster
from bulk_provision.simulator import Simulator
from bulk_provision.terminal import printable
from tests.e2e.test_run import tuning
from tests.unit.schemas.test_schema_rules import GOOD, roster_of
from tests.workbooks import sheet_rows

ESC_SEQUENCES = ("\x1b[2J", "\x1b]0;owned\x07", "\x9b31m")  # clear screen, window title, C1 CSI


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def shown(path: Path, sheet: str) -> list[list[object]]:
    """A sheet as Excel shows it (calamine decodes ``_xHHHH_`` the way Excel does)."""
    rows: list[list[object]] = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(
        sheet).to_python()
    return rows


def error_cells(path: Path) -> list[str]:
    """Every cell of every worksheet that the XML stores as an error (``t="e"``)."""
    with zipfile.ZipFile(path) as archive:
        return [
            match
            for name in archive.namelist() if name.startswith("xl/worksheets/")
            for match in re.findall(r'<c [^>]*t="e"[^>]*>', archive.read(name).decode())
        ]


def no_terminal_control(text: str) -> None:
    assert re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text) is None, repr(text)


# --- item 3: repeated values stay near-linear ---------------------------------------------------


def test_a_large_clash_names_five_rows_and_a_count_in_bounded_memory() -> None:
    n = 20_000
    frame = pd.DataFrame(
        {"PartnerUserID": ["E-1"] * n, "UserAddress": [f"u{i}.glance.net" for i in range(n)]},
        index=range(2, n + 2), dtype=object,
    )
    roster = Roster(Path("r.csv"), frame, {c: c for c in frame.columns}, "0" * 64)
    tracemalloc.start()
    try:
        result = validate_roster(roster)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(result.problems) == n and result.invalid_rows == set(range(2, n + 2))
    by_row = {p.row: p.message for p in result.problems}
    assert by_row[2] == "PartnerUserID E-1 also appears in rows 3, 4, 5, 6, 7 and 19,994 more"
    assert by_row[5] == "PartnerUserID E-1 also appears in rows 2, 3, 4, 6, 7 and 19,994 more"
    assert by_row[n + 1] == "PartnerUserID E-1 also appears in rows 2, 3, 4, 5, 6 and 19,994 more"
    for message in by_row.values():  # never more than five rows named, whatever the group
        named = re.search(r"rows ([\d, ]+) and", message)
        assert named is not None and len(named.group(1).split(", ")) == 5
    # a list of the other rows per row would be 20,000 x 20,000 entries (3 GB); this is not
    assert peak < 150 * 2**20, f"{peak / 2**20:.0f} MB"


def test_a_small_clash_lists_every_other_row() -> None:
    rows = [GOOD | {"UserAddress": f"u{i}.glance.net"} for i in range(7)]
    messages = {p.row: p.message for p in validate_roster(roster_of(rows)).problems}
    assert messages[2] == "PartnerUserID 00123 also appears in rows 3, 4, 5, 6, 7, 8"


# --- also: look-alike IDs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "written"),
    [
        ("A123", "A\uff11\uff12\uff13", "'A\uff11\uff12\uff13'"),  # full-width digits
        ("abc", "ab\u200bc", "'ab\\u200bc'"),  # a zero-width space, shown visibly
        ("E-7", "E\u2060-7", "'E\\u2060-7'"),  # a word joiner
    ],
)
def test_ids_that_look_the_same_clash_and_the_message_says_why(
    first: str, second: str, written: str
) -> None:
    rows = [GOOD | {"PartnerUserID": first, "UserAddress": "a.glance.net"},
            GOOD | {"PartnerUserID": second, "UserAddress": "b.glance.net"}]
    problems = validate_roster(roster_of(rows)).problems
    assert [(p.row, p.rule) for p in problems] == [(2, "PartnerUserID.unique"),
                                                   (3, "PartnerUserID.unique")]
    message = problems[0].message
    assert message.startswith(f"PartnerUserID {first} also appears in row 3 (written '")
    assert "full-width, zero-width and other invisible characters" in message
    assert f"written {written} there" in message
    assert "\u200b" not in problems[1].message  # the invisible character is shown, not hidden


def test_addresses_differing_only_in_case_need_no_extra_explanation() -> None:
    rows = [GOOD | {"PartnerUserID": "1", "UserAddress": "Ann.glance.net"},
            GOOD | {"PartnerUserID": "2", "UserAddress": "ann.glance.net"}]
    messages = [p.message for p in validate_roster(roster_of(rows)).problems]
    assert messages == ["UserAddress Ann.glance.net also appears in row 3",
                        "UserAddress ann.glance.net also appears in row 2"]


# --- item 10: control characters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("PartnerUserID", "X2\x00Z", "PartnerUserID.control"),
        ("UserFirst", "Ann\x1b[2J", "UserFirst.control"),
        ("UserLast", "Lee\nSmith", "UserLast.control"),
        ("UserRole", "Agent\x7f", "UserRole.control"),
        ("UserEmail", "a\x85@example.com", "UserEmail.control"),
        ("Notes", "x\x1b]0;owned\x07", "Notes.control"),
    ],
)
def test_control_characters_are_a_problem_in_every_column(
    column: str, value: str, rule: str
) -> None:
    problems = validate_roster(roster_of([GOOD | {column: value}])).problems
    assert rule in [p.rule for p in problems]
    found = next(p for p in problems if p.rule == rule)
    assert found.value == value and "contains control characters (" in found.message


@pytest.mark.parametrize(("column", "value"), [
    ("UserFirst", "Mary\tAnn"), ("UserLast", "van\tDijk"), ("Notes", "line one\nline two\r\n3"),
    ("Notes", "tab\tinside"),
])
def test_tabs_in_names_and_line_breaks_in_unknown_columns_are_fine(
    column: str, value: str
) -> None:
    assert validate_roster(roster_of([GOOD | {column: value}])).ok


def test_a_control_character_in_a_password_is_reported_without_a_hint_of_it() -> None:
    problems = validate_roster(roster_of([GOOD | {"UserPW": "pass\x1bword1"}])).problems
    assert [(p.rule, p.value) for p in problems] == [("UserPW.control", "***")]
    assert "\\x1b" not in problems[0].message and "word1" not in problems[0].message


def test_a_csv_with_control_characters_loads_and_every_bad_cell_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [[f"{i:05d}", f"u{i}.demo.glance.net", f"Name {i}" + "x" * 40] for i in range(3000)]
    rows[2500][2] = "Evil\x1b[2J\x1b]0;owned\x07"  # far past the first 64 KB
    rows[2999][0] = "X2\x00Z"
    path = write_csv(tmp_path / "r.csv", ["PartnerUserID", "UserAddress", "UserFirst"], rows)
    assert read_roster(path).frame.loc[3001, "PartnerUserID"] == "X2\x00Z"
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    no_terminal_control(out)
    assert re.search(r"UserFirst\.control +1 row +\(row 2502\)", out), out
    assert re.search(r"PartnerUserID\.control +1 row +\(row 3001\)", out), out
    assert "UserFirst contains control characters (\\x1b, \\x07)" in out


def test_binary_garbage_named_csv_is_still_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress\n" + random.Random(7).randbytes(40_000))
    assert main(["validate", str(path)]) == 2
    assert "does not look like a CSV text file" in capsys.readouterr().err


def test_xlsx_escapes_are_decoded_then_refused_and_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["PartnerUserID", "UserAddress", "UserFirst"])
    sheet.append(["1", "a.demo.glance.net", "Ann_x001B_[2J_x001B_]0;owned_x0007_"])
    book.save(path)
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    no_terminal_control(out)
    assert "UserFirst.control" in out and "(\\x1b, \\x07)" in out


def test_validate_escapes_a_hostile_header_and_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "Notes\x1b]0;owned\x07"
    path = write_csv(tmp_path / "r\x1b[2J.csv", ["PartnerUserID", "UserAddress", header],
                     [["1", "a.demo.glance.net", "\x1b[31mred"]])
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    no_terminal_control(out)
    assert "r\\x1b[2J.csv" in out


def test_a_one_line_error_is_escaped_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "r.csv", ["PartnerUserID", "Addr\x1b[2J"],
                     [["1", "a.demo.glance.net"]])
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    no_terminal_control(err)
    assert "Headers found: PartnerUserID, Addr\\x1b[2J" in err


def test_status_escapes_what_the_journal_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.sqlite"
    key = "E\x1b]0;owned\x07"
    with Checkpoint.open(path, roster_sha256="0" * 64, roster_path="r\x1b[2J.csv",
                         mode="create") as cp:
        cp.record_plan([Action(key, 2, ActionKind.CREATE)])
        cp.send(key)
        cp.answer(RowResult(key, 2, ActionKind.CREATE, Outcome.FAILED,
                               "INVALID: \x1b[2Jbad\x9b1m"))
    assert main(["status", str(path)]) == 0
    out = capsys.readouterr().out
    no_terminal_control(out)
    assert "  row 2  E\\x1b]0;owned\\x07  INVALID: \\x1b[2Jbad\\x9b1m" in out.splitlines()
    assert "Roster: r\\x1b[2J.csv" in out


@pytest.mark.parametrize("sequence", ESC_SEQUENCES)
def test_printable_shows_escape_sequences_visibly(sequence: str) -> None:
    text = printable(f"a{sequence}b\u202ec\td")
    no_terminal_control(text)
    assert "\u202e" not in text and text.startswith("a\\x")


# --- item 7: password-like headers --------------------------------------------------------------


@pytest.mark.parametrize("header", [
    "Temporary Password", "Initial Password", "PW", "Passwort", "pwd", "Temp PW", "New Password",
    "TempPW", "initial_pwd", "Contraseña", "Kennwort", "Mot de passe", "Passcode",
])
def test_password_like_headers_are_recognised(header: str) -> None:
    assert looks_like_password(header)


@pytest.mark.parametrize("header", [
    "Password Hint", "Password Last Changed", "Password Expiry", "Must Change Password",
    "Passport Number", "Bypass", "Compass Team", "Notes", "Parking Pass", "Department",
])
def test_ordinary_headers_are_not_taken_for_passwords(header: str) -> None:
    assert not looks_like_password(header)


def test_a_password_under_an_unknown_header_fails_validation_and_is_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Hunter2-Tmp-Secret"
    path = write_csv(tmp_path / "r.csv",
                     ["PartnerUserID", "UserAddress", "Temp PW", "Password Hint"],
                     [["1", "a.demo.glance.net", secret, "the usual"],
                      ["2", "b.demo.glance.net", "", "none"]])
    report = tmp_path / "report.xlsx"
    assert main(["validate", str(path), "--report", str(report)]) == 3
    out = capsys.readouterr().out
    assert secret not in out
    assert "Rows: 2  valid: 1  invalid: 1" in out
    assert re.search(r'Temp PW\.password +1 row +\(row 2\) +the column "Temp PW" looks like a '
                     r"password column .*rename the header to UserPW \(or Password\), or map it "
                     r'with --columns \("Temp PW" = "UserPW"\)', out), out
    problems = sheet_rows(report, "Problems")
    assert [(p["Row"], p["Column"], p["Value"], p["Rule"]) for p in problems] == [
        (2, "Temp PW", "***", "Temp PW.password")]
    roster_sheet = shown(report, "Roster")
    assert roster_sheet[1][2:] == ["***", "the usual"]  # the hint is an ordinary column
    assert secret not in str(roster_sheet) + str(problems)


def test_run_sends_nothing_and_masks_the_column_in_the_results(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    secret = "Initial-Secret-99"
    path = write_csv(workdir / "r.csv", ["PartnerUserID", "UserAddress", "Initial Password"],
                     [["1", "a.demo.glance.net", secret], ["2", "b.demo.glance.net", secret]])
    assert main(["run", str(path), "--no-progress"]) == 3
    out = capsys.readouterr().out
    assert simulator.request_log == [] and secret not in out
    rows = sheet_rows(workdir / "r.results.xlsx")
    assert [(r["Initial Password"], r["Outcome"]) for r in rows] == [("***", "invalid")] * 2
    problems = sheet_rows(workdir / "r.results.xlsx", "Problems")
    assert {p["Value"] for p in problems} == {"***"}


def test_mapping_the_column_sends_the_password(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
) -> None:
    use_sim(simulator)
    path = write_csv(workdir / "r.csv", ["PartnerUserID", "UserAddress", "Temp PW"],
                     [["1", "a.demo.glance.net", "Mapped-Secret-1"]])
    columns = workdir / "columns.toml"
    columns.write_text('"Temp PW" = "UserPW"\n', encoding="utf-8")
    assert main(["run", str(path), "--no-progress", "--rate", "0",
                 "--columns", str(columns)]) == 0
    assert simulator.users()["1"].user_pw == "Mapped-Secret-1"
    assert sheet_rows(workdir / "r.results.xlsx")[0]["Temp PW"] == "***"


def test_a_password_stored_as_a_number_is_not_quoted_in_the_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["PartnerUserID", "UserAddress", "UserPW"])
    sheet.append(["1", "a.demo.glance.net", 73219846])
    book.save(path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "73219846" not in out
    assert "row 2, UserPW: Excel stored this cell as a number or date" in out


# --- item 12: report cells show exactly the roster's text ---------------------------------------

TRICKY = ["#N/A", "#REF!", "#DIV/0!", "_x003D_1+2", "=1+2", "a_x005F_b"]


def test_validate_report_shows_the_exact_text_in_both_sheets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [[f"{i}", f"u{i}.demo.glance.net", text, text, "_x0031_"]
            for i, text in enumerate(TRICKY)]
    path = write_csv(tmp_path / "r.csv",
                     ["PartnerUserID", "UserAddress", "UserFirst", "Notes", "AudioProvider"],
                     rows)
    report = tmp_path / "report.xlsx"
    assert main(["validate", str(path), "--report", str(report)]) == 3
    capsys.readouterr()
    assert error_cells(report) == []
    roster_sheet = shown(report, "Roster")
    assert [r[2:5] for r in roster_sheet[1:]] == [[t, t, "_x0031_"] for t in TRICKY]
    book = openpyxl.load_workbook(report)
    try:  # openpyxl does not decode _xHHHH_: it sees the escaped text, always as a string
        cells = [row[2] for row in book["Roster"].iter_rows(min_row=2)]
        assert [c.data_type for c in cells] == ["s"] * len(TRICKY)
        assert [c.value for c in cells] == [
            "#N/A", "#REF!", "#DIV/0!", "_x005F_x003D_1+2", "=1+2", "a_x005F_x005F_b"]
    finally:
        book.close()
    problems = shown(report, "Problems")
    assert {r[2] for r in problems[1:]} == {"_x0031_"}
    assert all("'_x0031_'" in str(r[3]) for r in problems[1:])


def test_results_workbook_shows_the_exact_text_on_every_sheet(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    rows = [[f"{i}", f"u{i}.demo.glance.net", text, "_x0031_"] for i, text in enumerate(TRICKY)]
    name = "r_x003D_.csv"
    path = write_csv(workdir / name, ["PartnerUserID", "UserAddress", "Notes", "AudioProvider"],
                     rows)
    out = workdir / "out.xlsx"
    assert main(["run", str(path), "--no-progress", "--out", str(out)]) == 3
    capsys.readouterr()
    assert error_cells(out) == []
    assert [r[2] for r in shown(out, "Results")[1:]] == TRICKY
    assert {r[2] for r in shown(out, "Problems")[1:]} == {"_x0031_"}
    summary = dict((r[0], r[1]) for r in shown(out, "Summary"))
    assert str(summary["Roster"]).endswith(name)


def test_plan_workbook_shows_the_exact_text(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    path = write_csv(workdir / "r.csv", ["PartnerUserID", "UserAddress"],
                     [[text, f"u{i}.demo.glance.net"] for i, text in enumerate(TRICKY)])
    out = workdir / "plan.xlsx"
    assert main(["plan", str(path), "--out", str(out)]) == 0
    capsys.readouterr()
    assert error_cells(out) == []
    assert [r[1] for r in shown(out, "Plan")[1:]] == TRICKY


# --- also: unique Results headers ---------------------------------------------------------------


def test_row_and_row_roster_headers_stay_apart(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    path = write_csv(workdir / "r.csv",
                     ["PartnerUserID", "UserAddress", "Row", "Row (roster)", "Notes", "Notes",
                      "outcome"],
                     [["1", "a.demo.glance.net", "r1", "rr1", "n1", "n2", "o1"]])
    assert main(["run", str(path), "--no-progress", "--rate", "0"]) == 0
    capsys.readouterr()
    header = shown(workdir / "r.results.xlsx", "Results")[0]
    assert header == ["PartnerUserID", "UserAddress", "Row (roster)", "Row (roster) (2)",
                      "Notes", "Notes (2)", "outcome (roster)", "Row", "Action", "Outcome",
                      "Message", "dialIn", "hostCode", "guestCode", "Attempts"]
    assert len({h.casefold() for h in header}) == len(header)
    row = dict(zip(header, shown(workdir / "r.results.xlsx", "Results")[1], strict=True))
    assert (row["Row (roster)"], row["Row (roster) (2)"], row["Row"]) == ("r1", "rr1", 2)


# --- also: warnings in run and plan -------------------------------------------------------------


def numbers_roster(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["PartnerUserID", "UserAddress", "UserFirst"])
    sheet.append([120000, "a.demo.glance.net", "Ann"])
    sheet.append(["E2", "b.demo.glance.net", "Bob"])
    book.save(path)
    return path


WARNING_LINES = [
    "Warnings: 1 cell was stored as numbers or dates; check they read as intended",
    "  row 2, PartnerUserID: Excel stored this cell as a number (120000); it was read as the "
    "text 120000 — format the column as Text in Excel to be sure",
]


def test_run_prints_the_warnings_and_lists_them_on_the_problems_sheet(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    path = numbers_roster(workdir / "r.xlsx")
    assert main(["run", str(path), "--no-progress", "--rate", "0", "--quiet",
                 "--config", str(tuning(workdir / "t.toml"))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == WARNING_LINES
    assert sorted(simulator.users()) == ["120000", "E2"]
    problems = sheet_rows(workdir / "r.results.xlsx", "Problems")
    assert [(p["Row"], p["Column"], p["Value"], p["Rule"]) for p in problems] == [
        (2, "PartnerUserID", "120000", "warning")]
    assert str(problems[0]["Message"]).startswith("Warning (the row is still valid): Excel")
    outcomes = [r["Outcome"] for r in sheet_rows(workdir / "r.results.xlsx")]
    assert outcomes == ["created", "created"]


def test_plan_prints_the_warnings(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    path = numbers_roster(workdir / "r.xlsx")
    assert main(["plan", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == WARNING_LINES


def test_messages_quoting_a_value_show_its_control_characters_visibly() -> None:
    problems = validate_roster(roster_of([GOOD | {"AudioProvider": "1\x1b[2J"}])).problems
    messages = {p.rule: p.message for p in problems}
    assert messages["AudioProvider.value"].endswith("(found '1\\x1b[2J')")
    assert "\x1b" not in "".join(messages.values())
