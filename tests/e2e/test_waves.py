"""Waves (``--rows``, ``--where``, ``--first`` on ``plan`` and ``run``), against the simulator:
each wave sends only its rows, a later wave creates nobody twice, undo reverses one wave, sync
refuses a wave, and bad selections end with one line and no request."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.workbooks import sheet_rows

HEADER = ["Employee ID", "Glance Address", "First Name", "Last Name", "Department"]
PEOPLE = 40  # rows 2-41; odd keys in Sales, even ones in Care


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(PEOPLE):
            w.writerow([f"{i:03d}", f"u{i:03d}.demo.glance.net", "Ann", f"Lee{i}",
                        "Sales" if i % 2 else "Care"])
    return path


def key(row: int) -> str:
    """The Employee ID on spreadsheet row ``row`` (the header is row 1)."""
    return f"{row - 2:03d}"


def run(*args: str) -> int:
    return main(["run", *args, "--rate", "0", "--no-progress"])


def created(sim: Simulator) -> Counter[str]:
    """How many times Glance created each user (NewUser answered OK)."""
    return Counter(r.partner_user_id for r in sim.request_log
                   if r.operation == "NewUser" and r.committed)


def writes(sim: Simulator) -> list[tuple[str, str]]:
    return [(r.operation, r.partner_user_id) for r in sim.request_log
            if r.operation in ("NewUser", "UpdateUser", "DeleteUser")]


def results_of(path: Path) -> dict[object, object]:
    return {r["Row"]: r["Outcome"] for r in sheet_rows(path)}


def summary_of(path: Path) -> dict[object, object]:
    """The results workbook's Summary sheet: label -> value."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {label: value for label, value, *_ in book["Summary"].iter_rows(values_only=True)}
    finally:
        book.close()


def test_two_waves_create_every_row_exactly_once(
    sim: Simulator, roster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The canary: the first 20 people.
    assert run(str(roster), "--first", "20") == 0
    out = capsys.readouterr().out
    assert "wave: rows of staff.csv, the first 20 (20 people)" in out
    assert set(created(sim)) == {key(r) for r in range(2, 22)}
    canary = next(tmp_path.glob("staff.first-20-*.results.xlsx"))
    assert set(results_of(canary)) == set(range(2, 22))  # only the wave's rows are listed
    summary = summary_of(canary)
    assert summary["Selection"] == "first 20"
    assert summary["Wave"] == "rows of staff.csv, the first 20 (20 people)"
    assert summary["Total"] == 20
    # The rest, overlapping the canary by ten rows: upsert sends nothing for those ten.
    sent = len(sim.request_log)
    assert run(str(roster), "--rows", "12-41", "--mode", "upsert", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["selection"] == "rows 12-41"
    assert document["counts"]["created"] == 20 and document["counts"]["unchanged"] == 10
    rest = Path(document["files"]["results"])
    assert rest.name.startswith("staff.rows-12-41-") and rest != canary
    outcomes = results_of(rest)
    assert set(outcomes) == set(range(12, 42))
    assert {outcomes[r] for r in range(12, 22)} == {"unchanged"}
    new = [w for w in writes(sim) if w[0] == "NewUser"][20:]
    assert sorted(k for _, k in new) == [key(r) for r in range(22, 42)]
    assert len(sim.request_log) > sent
    # Together: every row of the roster created, each exactly once, nothing else written.
    assert created(sim) == Counter({key(r): 1 for r in range(2, 42)})
    assert [w for w in writes(sim) if w[0] != "NewUser"] == []
    journals = sorted(p.name for p in tmp_path.glob("staff.csv*.checkpoint.sqlite"))
    assert len(journals) == 2 and "staff.csv.checkpoint.sqlite" not in journals


def test_a_create_wave_over_rows_already_created_creates_nobody_twice(
    sim: Simulator, roster: Path, tmp_path: Path,
) -> None:
    assert run(str(roster), "--rows", "2-6") == 0
    assert run(str(roster), "--rows", "2-11") == 0  # create mode: Glance is read first
    results = results_of(next(tmp_path.glob("staff.rows-2-11-*.results.xlsx")))
    assert [results[r] for r in range(2, 7)] == ["unchanged"] * 5
    assert [results[r] for r in range(7, 12)] == ["created"] * 5
    assert created(sim) == Counter({key(r): 1 for r in range(2, 12)})
    sent = [k for op, k in writes(sim) if op == "NewUser"]  # nothing sent again for 2-6
    assert sorted(sent) == [key(r) for r in range(2, 12)]


def test_where_picks_a_department_by_header_or_glance_name_and_first_caps_it(
    sim: Simulator, roster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(str(roster), "--where", "department = sales", "--where",
               "PartnerUserID=001,003,005,007,008", "--first", "3") == 0
    assert "wave: rows of staff.csv where department is sales and PartnerUserID is 001 or " \
           "003 or 005 or 007 or 008, the first 3 (3 people)" in capsys.readouterr().out
    assert set(created(sim)) == {"001", "003", "005"}


def test_undo_of_a_wave_reverses_that_wave_alone(
    sim: Simulator, roster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(str(roster), "--rows", "2-6", "--json") == 0
    first = Path(json.loads(capsys.readouterr().out)["files"]["checkpoint"])
    assert run(str(roster), "--rows", "7-11", "--json") == 0
    second = Path(json.loads(capsys.readouterr().out)["files"]["checkpoint"])
    assert first != second
    assert main(["undo", str(second), "--yes", "--rate", "0", "--no-progress",
                 "--max-suspend", "100%"]) == 0
    users = sim.users()
    assert {k for k, u in users.items() if u.suspended} == {key(r) for r in range(7, 12)}
    undone = second.with_name(f"{second.stem}.undo-results.xlsx")
    summary = {r["Item"]: r["Value"] for r in sheet_rows(undone, "Summary")}
    assert summary["wave"] == "rows 7-11"
    assert main(["status", str(first)]) == 0
    assert "rows 2-6" in capsys.readouterr().out


def test_plan_of_a_wave_records_it_and_run_plan_carries_it_out(
    sim: Simulator, roster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", str(roster), "--mode", "upsert", "--where", "Department=Care",
                 "--first", "4"]) == 0
    out = capsys.readouterr().out
    assert "wave: rows of staff.csv where Department is Care, the first 4 (4 people)" in out
    plan = next(tmp_path.glob("staff.Department-Care-first-4-*.plan.xlsx"))
    summary = {r["Item"]: r["Value"] for r in sheet_rows(plan, "Summary")}
    assert summary["selection"] == "Department=Care; first 4"
    assert sim.request_log and writes(sim) == []  # the plan read Glance, wrote nothing
    assert main(["plan", str(roster), "--mode", "upsert", "--where", "Department=Care",
                 "--first", "4", "--json", "--out", str(tmp_path / "again.xlsx")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["selection"] == "Department=Care; first 4"
    assert document["counts"]["create"] == 4
    # Another selection with this plan is refused; the plan alone carries its wave out.
    assert run(str(roster), "--plan", str(plan), "--rows", "2-5") == 2
    assert "was made for Department=Care; first 4" in capsys.readouterr().err
    assert writes(sim) == []
    assert run(str(roster), "--plan", str(plan), "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["selection"] == "Department=Care; first 4"
    assert sorted(created(sim)) == ["000", "002", "004", "006"]
    assert set(results_of(Path(document["files"]["results"]))) == {2, 4, 6, 8}


def test_a_wave_never_resumes_another_waves_unfinished_journal(
    sim: Simulator, roster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    journal = tmp_path / "shared.sqlite"
    assert run(str(roster), "--rows", "2-3", "--checkpoint", str(journal)) == 0
    # finished: a different wave with the same --checkpoint is a new run, not a resume
    assert run(str(roster), "--rows", "4-5", "--checkpoint", str(journal)) == 0
    assert created(sim) == Counter({key(r): 1 for r in range(2, 6)})


@pytest.mark.parametrize("mode_args", [["--mode", "sync"], []])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_sync_with_a_selection_is_refused_before_any_request(
    sim: Simulator, roster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    command: str, mode_args: list[str],
) -> None:
    config = tmp_path / "bulk-provision.toml"
    if not mode_args:  # sync from the config file is refused just the same
        config.write_text('mode = "sync"\n', encoding="utf-8")
        config.chmod(0o600)
    code = main([command, str(roster), *mode_args, "--rows", "2-21", "--no-progress"]
                if command == "run" else [command, str(roster), *mode_args, "--rows", "2-21"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--mode sync cannot run a wave (rows 2-21)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sim.request_log == []
    assert not list(tmp_path.glob("*.xlsx")) and not list(tmp_path.glob("*.sqlite"))


@pytest.mark.parametrize(("args", "said"), [
    (["--where", "Department=Nobody"],
     "no rows match Department=Nobody in staff.csv (40 people, in rows 2-41)"),
    (["--rows", "5-2"], "--rows 5-2 goes backwards: write the lower row first (--rows 2-5)"),
    (["--rows", "2-500"],
     "--rows 2-500 goes beyond the roster: staff.csv has 40 people, in rows 2-41"),
    (["--rows", "abc"], "--rows 'abc' is not a list of row numbers"),
    (["--rows", "1-5"], "row 1 is the header; people start at row 2"),
    (["--first", "0"], "--first '0': give how many people, a whole number from 1"),
    (["--first", "-3"], "--first '-3': give how many people"),
    (["--where", "Dept=Sales"], "--where Dept: staff.csv has no column 'Dept'; its columns are "
     "Employee ID (PartnerUserID), Glance Address (UserAddress), First Name (UserFirst), "
     "Last Name (UserLast), Department"),
    (["--where", "Department"], "--where 'Department' needs COLUMN=VALUE"),
])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_bad_selection_is_one_line_exit_2_and_no_request(
    sim: Simulator, roster: Path, capsys: pytest.CaptureFixture[str],
    command: str, args: list[str], said: str,
) -> None:
    extra = ["--no-progress"] if command == "run" else []
    assert main([command, str(roster), *args, *extra]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sim.request_log == []
