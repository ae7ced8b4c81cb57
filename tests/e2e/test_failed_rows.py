"""The failed-rows file ``<roster-stem>.failed.<ext>``: the rows to fix and run again."""

from __future__ import annotations

import csv
import io
import stat
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from bulk_provision.model import ActionKind, Outcome, RowResult
from bulk_provision.report.failed_rows import failed_rows_path, row_problems, write_failed_rows
from bulk_provision.roster.read import Roster, read_roster
from bulk_provision.roster.validation import Problem, ValidationResult
from bulk_provision.simulator import Simulator
from tests.e2e import test_run
from tests.e2e.test_run import run_cli, tuning
from tests.workbooks import sheet_rows

workdir = test_run.workdir  # the same fixture
HEADER = ["Employee ID", "Glance Address", "Password", "Role", "Email", "Notes"]


def _csv_rows(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline=""),
                           delimiter=delimiter))


def test_fix_the_failed_file_and_run_it_creates_exactly_those_users(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = workdir / "staff.csv"
    rows = [
        HEADER,
        ["00001", "ann.demo.glance.net", "Ann-pw-12345", "Agent", "ann@example.com", "Zoë"],
        ["00002", "bob.demo.glance.net", "Bob-pw-12345", "Ghost", "bob@example.com", "=1+2"],
        ["00003", "cy.demo.glance.net", "Cy-pw-123456", "Agent", "not-an-email", "x;y"],
        ["00004", "dee.demo.glance.net", "Dee-pw-12345", "", "dee@example.com", ""],
    ]
    text = "\r\n".join(";".join(f'"{c}"' if ";" in c else c for c in r) for r in rows) + "\r\n"
    roster.write_bytes(text.encode("cp1252"))
    config = str(tuning(workdir / "t.toml"))
    assert run_cli(str(roster), "--skip-invalid", "--rate", "0", "--config", config) == 1
    failed = workdir / "staff.failed.csv"
    assert f"failed rows: {failed}" in capsys.readouterr().out.splitlines()
    assert stat.S_IMODE(failed.stat().st_mode) == 0o600
    # same format: Windows-1252, semicolons; the roster's own header and cells, plus Problem
    table = _csv_rows(failed, "cp1252", ";")
    assert table[0] == [*HEADER, "Problem (bulk-provision)"]
    assert [r[:-1] for r in table[1:]] == [rows[2], rows[3]]
    assert table[1][-1].startswith("row 3: Glance refused it: NO_ROLE")
    assert table[2][-1] == "row 4: UserEmail 'not-an-email' is not a valid email address"
    assert sorted(simulator.users()) == ["00001", "00004"]

    # the admin fixes the two cells and runs the failed file itself
    table[1][3], table[2][4] = "Supervisor", "cy@example.com"
    fixed = "\r\n".join(";".join(f'"{c}"' if ";" in c else c for c in r) for r in table)
    failed.write_bytes((fixed + "\r\n").encode("cp1252"))
    assert run_cli(str(failed), "--rate", "0", "--config", config) == 0
    assert "failed rows:" not in capsys.readouterr().out
    users = simulator.users()
    assert sorted(users) == ["00001", "00002", "00003", "00004"]
    assert users["00002"].user_role == "Supervisor"
    assert users["00003"].user_pw == "Cy-pw-123456"  # the password came along
    assert set(simulator.created_counts().values()) == {1}
    new_users = [r.partner_user_id for r in simulator.request_log if r.operation == "NewUser"]
    assert sorted(new_users) == ["00001", "00002", "00002", "00003", "00004"]  # 00002 refused once
    assert not (workdir / "staff.failed.failed.csv").exists()


def _workbook(path: Path, rows: list[list[str]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "People"
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.data_type = "s"  # text, as HR keeps IDs: "=1+2" stays text too
    book.save(path)
    return path


def test_an_invalid_workbook_gets_an_xlsx_failed_file_and_a_clean_run_removes_it(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    good = ["00001", "ann.demo.glance.net", "Ann-pw-12345", "Agent", "ann@example.com", "=1+2"]
    bad = ["00002", "-bob.demo.glance.net", "short", "Agent", "bob@example.com", "@x"]
    roster = _workbook(workdir / "staff.xlsx", [HEADER, good, bad])
    config = str(tuning(workdir / "t.toml"))
    assert run_cli(str(roster), "--config", config) == 3  # nothing sent
    failed = workdir / "staff.failed.xlsx"
    assert f"failed rows: {failed}" in capsys.readouterr().out
    assert stat.S_IMODE(failed.stat().st_mode) == 0o600
    assert openpyxl.load_workbook(failed).sheetnames == ["People"]
    read = sheet_rows(failed, "People")
    assert [list(r.values())[:-1] for r in read] == [bad]  # passwords kept for the re-run
    problem = str(read[0]["Problem (bulk-provision)"])
    assert problem.startswith("row 3: ") and "UserAddress" in problem and "UserPW" in problem
    assert "short" not in problem  # the password is not quoted in the message
    assert read_roster(failed).frame.loc[2, "Notes"] == "@x"  # text, no formula

    _workbook(roster, [HEADER, good, ["00002", "bob.demo.glance.net", "Bob-pw-12345",
                                      "Agent", "bob@example.com", ""]])
    assert run_cli(str(roster), "--rate", "0", "--config", config) == 0
    assert "failed rows:" not in capsys.readouterr().out
    assert not failed.exists()  # a stale file would say there is still something to fix


def test_the_failed_file_may_not_be_the_results_workbook(
    use_sim: Callable[..., None], simulator: Simulator, workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = _workbook(workdir / "staff.xlsx", [HEADER, ["1", "a.demo.glance.net", "", "", "",
                                                         ""]])
    assert run_cli(str(roster), "--out", "staff.failed.xlsx") == 2
    err = capsys.readouterr().err
    assert "--out staff.failed.xlsx is the failed-rows file; choose another file" in err
    assert not (workdir / "staff.failed.xlsx").exists()
    assert simulator.request_log == []


def test_only_failed_and_invalid_rows_are_listed_never_unfinished_ones() -> None:
    frame = pd.DataFrame({"PartnerUserID": ["a", "b", "c", "d", "e"]},
                         index=pd.Index([2, 3, 4, 5, 6], name="row"), dtype=object)
    roster = Roster(Path("r.csv"), frame, {"PartnerUserID": "ID"}, "0" * 64)
    validation = ValidationResult(5, [Problem(6, "ID", "e", "x", "bad e")])
    results = [
        RowResult("a", 2, ActionKind.CREATE, Outcome.CREATED),
        RowResult("b", 3, ActionKind.CREATE, Outcome.FAILED, "DUPLICATE_ADDRESS: taken"),
        RowResult("c", 4, ActionKind.CREATE, Outcome.UNFINISHED, "timeout"),
        RowResult("d", 5, ActionKind.CREATE, Outcome.NOT_ATTEMPTED),
        RowResult("z", None, ActionKind.SUSPEND, Outcome.FAILED, "NOT_FOUND"),  # no roster row
    ]
    assert row_problems(roster, validation, results) == {
        3: "row 3: Glance refused it: DUPLICATE_ADDRESS: taken",
        6: "row 6: bad e",
    }


@pytest.mark.parametrize(("encoding", "bom", "delimiter"), [
    ("utf-8", b"", ","), ("utf-8", b"\xef\xbb\xbf", ";"), ("utf-16-le", b"\xff\xfe", "\t"),
    ("utf-16-be", b"\xfe\xff", ","), ("cp1252", b"", ";"),
])
def test_a_csv_failed_file_keeps_the_encoding_and_delimiter_and_one_problem_column(
    tmp_path: Path, encoding: str, bom: bytes, delimiter: str
) -> None:
    rows = [["ID", "Name", "problem"], ["007", "Zoë; \"Z\"", "old"], ["008", "=1+2", ""]]
    text = "\r\n".join(delimiter.join(f'"{c}"' if delimiter in c or '"' in c else c
                                      for c in r).replace('"Z"', '""Z""') for r in rows)
    source = tmp_path / "in.csv"
    source.write_bytes(bom + text.encode(encoding))
    roster = read_roster(source)
    out = write_failed_rows(tmp_path / "in.failed.csv", roster, {2: "row 2: fix", 3: "row 3: x"})
    assert out is not None and out.read_bytes().startswith(bom)
    again = read_roster(out)
    assert (again.encoding, again.delimiter) == (roster.encoding, roster.delimiter)
    # the roster's own "problem" column is kept; the tool's has a name of its own
    assert list(again.headers.values()) == ["ID", "Name", "problem", "Problem (bulk-provision)"]
    assert again.frame.values.tolist() == [["007", 'Zoë; "Z"', "old", "row 2: fix"],
                                           ["008", "=1+2", "", "row 3: x"]]
    twice = write_failed_rows(tmp_path / "in.failed.failed.csv", again, {2: "row 2: again"})
    assert twice is not None
    assert list(read_roster(twice).headers.values()) == list(again.headers.values())  # refilled
    assert read_roster(twice).frame.values.tolist() == [["007", 'Zoë; "Z"', "old", "row 2: again"]]
    assert write_failed_rows(out, roster, {}) is None and not out.exists()


@pytest.mark.parametrize(("roster", "expected"), [
    ("a/staff.csv", "out/staff.failed.csv"),
    ("staff.tsv", "out/staff.failed.tsv"),
    ("staff.XLSX", "out/staff.failed.XLSX"),
    ("staff.xls", "out/staff.failed.xlsx"),
    ("staff.xlsm", "out/staff.failed.xlsx"),
])
def test_the_failed_file_is_named_after_the_roster_beside_the_results(
    roster: str, expected: str
) -> None:
    assert failed_rows_path(Path(roster), Path("out/x.results.xlsx")) == Path(expected)
