"""``run ROSTER --plan PLAN.xlsx``: exactly the approved plan, or a refusal with zero writes."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.e2e.test_sync import row, seed, write, writes
from tests.workbooks import sheet_rows


def make_plan(roster: Path, out: Path, *extra: str) -> int:
    return main(["plan", str(roster), "--out", str(out), *extra])


def run_plan(roster: Path, plan: Path, *extra: str) -> int:
    return main(["run", str(roster), "--plan", str(plan), "--rate", "0", "--no-progress",
                 *extra])


def upsert_roster(tmp_path: Path) -> Path:
    return write(tmp_path / "r.csv", [
        row("000"),                               # unchanged
        row("001", "Anne"),                       # first name changed
        row("002", role="Supervisor", pw="New-password-1"),  # role, and a password
        row("009", "New", pw="Fresh-password-9"),  # a new user
    ])


def test_run_plan_sends_exactly_the_planned_writes_and_the_roster_password(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 4)
    roster = upsert_roster(tmp_path)
    plan = tmp_path / "p.xlsx"
    assert make_plan(roster, plan, "--mode", "upsert", "--set-passwords") == 0
    summary = {r["Item"]: r["Value"] for r in sheet_rows(plan, "Summary")}
    assert summary["mode"] == "upsert" and len(str(summary["checksum"])) == 64
    actions = sheet_rows(plan, "Actions")
    assert [(a["PartnerUserID"], a["Action"], a["Password"]) for a in actions] == [
        ("000", "none", None), ("001", "update", None), ("002", "update", "will be set"),
        ("009", "create", "will be set")]
    assert "New-password-1" not in plan.read_bytes().decode("latin-1")
    capsys.readouterr()
    assert run_plan(roster, plan) == 0
    assert "resuming" not in capsys.readouterr().err  # a new run, whatever it planned unchanged
    assert sorted(writes(sim)) == [("NewUser", "009"), ("UpdateUser", "001"),
                                   ("UpdateUser", "002")]
    sent = {r.partner_user_id: set(r.fields) for r in sim.request_log
            if r.operation == "UpdateUser"}
    assert sent == {"001": {"partneruserid", "userfirst"},
                    "002": {"partneruserid", "userrole", "userpw"}}
    users = sim.users()
    assert users["002"].user_pw == "New-password-1"
    assert users["009"].user_pw == "Fresh-password-9"
    outcomes = {r["PartnerUserID"]: r["Outcome"] for r in sheet_rows(tmp_path / "r.results.xlsx")}
    assert outcomes == {"000": "unchanged", "001": "updated", "002": "updated",
                        "009": "created"}
    # The same command again: the plan is carried out, nothing is sent twice.
    assert run_plan(roster, plan) == 0
    assert len(writes(sim)) == 3
    assert "nothing left to send: an earlier run finished all 4 rows" in capsys.readouterr().err


def test_glance_changed_since_the_plan_refuses_it_all_with_the_differences_listed(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 4)
    roster = upsert_roster(tmp_path)
    plan = tmp_path / "p.xlsx"
    assert make_plan(roster, plan, "--mode", "upsert") == 0
    sim.add_user("009", "u009.demo.glance.net")  # created by someone else meanwhile
    sim.state.update("001", {"user_first": "Annie"})  # renamed by hand meanwhile
    capsys.readouterr()
    assert run_plan(roster, plan) == 2
    err = capsys.readouterr().err
    assert "no longer matches Glance (2 differences); nothing was changed" in err
    assert "row 3 001: planned update, but UserFirst is now 'Annie', the plan expected 'Ann'" in err
    assert "row 5 009: planned create, but Glance now has this user" in err
    assert writes(sim) == []


def test_a_different_roster_refuses_the_plan(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 2)
    roster = upsert_roster(tmp_path)
    plan = tmp_path / "p.xlsx"
    assert make_plan(roster, plan, "--mode", "upsert") == 0
    with roster.open("a", encoding="utf-8") as f:
        f.write("010,u010.demo.glance.net,,Extra,Lee,,,\n")
    capsys.readouterr()
    assert run_plan(roster, plan) == 2
    assert "the roster is not the one the plan" in capsys.readouterr().err
    assert writes(sim) == []


@pytest.mark.parametrize("sheet,column", [("Actions", "Fields"), ("Plan", "After")])
def test_a_plan_edited_by_hand_is_refused(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], sheet: str, column: str,
) -> None:
    seed(sim, 4)
    roster = upsert_roster(tmp_path)
    plan = tmp_path / "p.xlsx"
    assert make_plan(roster, plan, "--mode", "upsert") == 0
    book = openpyxl.load_workbook(plan)
    ws = book[sheet]
    header = [c.value for c in ws[1]]
    for line in ws.iter_rows(min_row=2):
        if line[1].value == "001":
            cell = line[header.index(column)]
            cell.value = str(cell.value).replace("Anne", "Mallory")
    book.save(plan)
    capsys.readouterr()
    assert run_plan(roster, plan) == 2
    err = capsys.readouterr().err
    assert "was changed after `bulk-provision plan` wrote it" in err
    assert writes(sim) == []


def test_a_sync_plan_suspends_exactly_its_users_and_the_guard_still_applies(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 20)
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}") for i in range(18)])
    plan = tmp_path / "p.xlsx"
    assert make_plan(roster, plan, "--mode", "sync", "--max-suspend", "2") == 0
    # The default guard (10% of 20 active = 2) allows it, 1 does not: refused, zero writes.
    capsys.readouterr()
    assert run_plan(roster, plan, "--max-suspend", "1") == 2
    err = capsys.readouterr().err
    assert "the plan suspends 2 of 20 active users, more than --max-suspend 1 allows (1)" in err
    assert writes(sim) == []
    # A user the run is told to protect is never suspended: refused too.
    assert run_plan(roster, plan, "--protect", "019") == 2
    assert "row - 019: planned suspend, but the user is protected" in capsys.readouterr().err
    assert writes(sim) == []
    sim.add_user("050", "u050.demo.glance.net")  # new since the plan: not in it, left alone
    assert run_plan(roster, plan) == 0
    assert sorted(writes(sim)) == [("UpdateUser", "018"), ("UpdateUser", "019")]
    users = sim.users()
    assert users["018"].suspended and users["019"].suspended and not users["050"].suspended


def test_run_plan_refuses_mode_and_a_missing_plan(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = upsert_roster(tmp_path)
    assert run_plan(roster, tmp_path / "p.xlsx", "--mode", "sync") == 2
    assert "leave out --mode" in capsys.readouterr().err
    assert run_plan(roster, tmp_path / "nope.xlsx") == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    assert run_plan(roster, tmp_path / "bad.xlsx") == 2
    assert "is not a plan workbook" in capsys.readouterr().err
    assert sim.request_log == []


def test_cells_that_excel_would_read_otherwise_survive_the_plan_round_trip(
    sim: Simulator, tmp_path: Path,
) -> None:
    seed(sim, 2)
    roster = write(tmp_path / "r.csv", [row("000", "_x0041_"), row("001", "=1+2")])
    plan = tmp_path / "p.xlsx"
    assert make_plan(roster, plan, "--mode", "upsert") == 0
    assert run_plan(roster, plan) == 0
    users = sim.users()
    assert (users["000"].user_first, users["001"].user_first) == ("_x0041_", "=1+2")
