"""``undo CHECKPOINT``: the reversal of a finished run, against the simulator."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.e2e.test_run import env_for
from tests.e2e.test_sync import row, seed, write, writes
from tests.workbooks import sheet_rows


def run(*args: str) -> int:
    return main(["run", *args, "--rate", "0", "--no-progress"])


def undo(checkpoint: Path, *args: str) -> int:
    """``undo`` with the guard opened unless the test sets it (tiny groups: 10% is 0 users)."""
    guard = [] if "--max-suspend" in args else ["--max-suspend", "100%"]
    return main(["undo", str(checkpoint), "--rate", "0", "--no-progress", *guard, *args])


def suspensions(sim: Simulator) -> dict[str, bool]:
    return {k: u.suspended for k, u in sim.users().items()}


def test_undo_of_a_create_run_plans_first_then_suspends_exactly_the_created_users(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 1)  # 000 exists already: the run reports it `exists`, undo leaves it alone
    roster = write(tmp_path / "r.csv", [row("000"), row("001"), row("002")])
    assert run(str(roster)) == 0
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    before = len(writes(sim))
    capsys.readouterr()
    assert undo(checkpoint) == 0
    out = capsys.readouterr().out
    assert "suspend" in out and "add --yes to carry out this undo" in out
    assert len(writes(sim)) == before  # the plan only
    plan = sheet_rows(tmp_path / "r.csv.checkpoint.undo-plan.xlsx", "Plan")
    assert [(p["PartnerUserID"], p["Action"]) for p in plan] == [("001", "suspend"),
                                                                ("002", "suspend")]
    assert undo(checkpoint, "--yes") == 0
    assert sorted(writes(sim)[before:]) == [("UpdateUser", "001"), ("UpdateUser", "002")]
    assert suspensions(sim) == {"000": False, "001": True, "002": True}
    results = sheet_rows(tmp_path / "r.csv.checkpoint.undo-results.xlsx")
    assert {r["PartnerUserID"]: r["Outcome"] for r in results} == {"001": "suspended",
                                                                   "002": "suspended"}
    assert undo(checkpoint, "--yes") == 0  # done already: nothing is sent again
    assert len(writes(sim)) == before + 2


def test_delete_created_deletes_and_the_guard_counts_it(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001"), row("002")])
    assert run(str(roster)) == 0
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    capsys.readouterr()
    assert undo(checkpoint, "--yes", "--delete-created", "--max-suspend", "1") == 2
    assert ("would suspend or delete 2 of 2 active users, more than --max-suspend 1 allows (1);"
            " nothing was changed. If that is intended, add --max-suspend 2"
            ) in capsys.readouterr().err
    assert [w for w in writes(sim) if w[0] != "NewUser"] == []
    assert undo(checkpoint, "--yes", "--delete-created", "--max-suspend", "100%") == 0
    assert [w[0] for w in writes(sim)].count("DeleteUser") == 2
    assert sim.users() == {}


def test_undo_of_an_upsert_restores_fields_lists_passwords_and_skips_users_changed_since(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 4)
    roster = write(tmp_path / "r.csv", [
        row("000"),                                       # unchanged: not reversed
        row("001", "Anne", role="Supervisor"),            # two fields
        row("002", "Bea", pw="New-password-2"),           # a field and the password
        row("003", "Cid"),                                # changed again by hand afterwards
        row("009", "New"),                                # created
    ])
    assert run(str(roster), "--mode", "upsert", "--set-passwords") == 0
    sim.state.update("003", {"user_first": "Hand"})
    before = len(sim.request_log)
    capsys.readouterr()
    assert undo(tmp_path / "r.csv.checkpoint.sqlite", "--yes") == 0
    out = capsys.readouterr().out
    assert "row 4 002: the password the run set cannot be restored" in out
    assert "row 5 003: changed since the run: UserFirst is now 'Hand', the run set 'Cid'" in out
    sent = {r.partner_user_id: set(r.fields) for r in sim.request_log[before:]
            if r.operation == "UpdateUser"}
    assert sent == {"001": {"partneruserid", "userfirst", "userrole"},
                    "002": {"partneruserid", "userfirst"},
                    "009": {"partneruserid", "usersuspended"}}
    users = sim.users()
    assert (users["001"].user_first, users["001"].user_role) == ("Ann", "Agent")
    assert users["002"].user_first == "Ann" and users["002"].user_pw == "New-password-2"
    assert users["003"].user_first == "Hand"  # not overwritten
    assert users["009"].suspended
    notes = sheet_rows(tmp_path / "r.csv.checkpoint.undo-results.xlsx", "Not undone")
    assert {str(n["PartnerUserID"]) for n in notes} == {"002", "003"}


def test_undo_of_a_sync_reinstates_the_suspended_and_suspends_the_reinstated(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 20, suspended=("003",))
    sim.add_user("boss", "boss.admins.demo.glance.net")
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}") for i in range(20) if i != 7])
    assert run(str(roster), "--mode", "sync", "--protect", "*.admins.demo.glance.net") == 0
    assert suspensions(sim)["007"] and not suspensions(sim)["003"]
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    before = len(writes(sim))
    # --protect applies to the undo's own suspensions: 003 is left alone and listed.
    capsys.readouterr()
    assert undo(checkpoint, "--yes", "--protect", "003") == 0
    assert "row 5 003: protected" in capsys.readouterr().out
    assert writes(sim)[before:] == [("UpdateUser", "007")]
    state = suspensions(sim)
    assert not state["007"] and not state["003"] and not state["boss"]


def test_undo_refuses_an_unfinished_run_and_a_missing_checkpoint(
    sim: Simulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001"), row("002")])
    sim.set_faults(fail_rate=1.0)
    assert run(str(roster), "--max-retries", "0") == 4
    sim.set_faults(fail_rate=0.0)
    capsys.readouterr()
    assert undo(tmp_path / "r.csv.checkpoint.sqlite", "--yes") == 2
    err = capsys.readouterr().err
    assert "still has 2 unfinished rows: finish the run first" in err
    assert undo(tmp_path / "nope.sqlite") == 2
    assert "does not exist" in capsys.readouterr().err
    assert writes(sim) == []


# -- kill -9 in the middle of an undo --------------------------------------------------------


def spawn_undo(checkpoint: Path, sim: Simulator) -> subprocess.Popen[str]:
    env = {**os.environ, **env_for(sim)}
    env.pop("REQUESTS_CA_BUNDLE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bulk_provision", "undo", str(checkpoint), "--yes",
         "--no-progress", "--rate", "0", "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        cwd=checkpoint.parent,
    )


def updates(sim: Simulator) -> list[str]:
    return [r.partner_user_id for r in sim.request_log if r.operation == "UpdateUser"]


def test_kill_9_in_the_middle_of_an_undo_then_resume_applies_each_reversal_once(
    make_simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = make_simulator(latency_ms=20)
    monkeypatch.chdir(tmp_path)
    for key, value in env_for(sim).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    seed(sim, 30)
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}", "Renamed") for i in range(30)])
    assert run(str(roster), "--mode", "upsert", "--workers", "8") == 0
    run_updates = len(updates(sim))
    assert run_updates == 30
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    proc = spawn_undo(checkpoint, sim)
    deadline = time.monotonic() + 60
    while len(updates(sim)) < run_updates + 8 and proc.poll() is None:
        assert time.monotonic() < deadline, "the undo did not get going within 60 s"
        time.sleep(0.01)
    proc.kill()
    proc.communicate(timeout=30)
    assert len(updates(sim)) < run_updates + 30  # killed in the middle
    proc = spawn_undo(checkpoint, sim)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    undone = [r for r in sim.request_log[0:] if r.operation == "UpdateUser"][run_updates:]
    applied = Counter(r.partner_user_id for r in undone if r.committed)
    assert applied == {f"{i:03d}": 1 for i in range(30)}
    assert all(u.user_first == "Ann" for u in sim.users().values())
    results = sheet_rows(tmp_path / "r.csv.checkpoint.undo-results.xlsx")
    assert {r["Outcome"] for r in results} == {"updated"} and len(results) == 30


def test_a_reversal_left_in_flight_is_verified_and_never_sent_twice(
    sim: Simulator, tmp_path: Path,
) -> None:
    seed(sim, 3)
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}", "Renamed") for i in range(3)])
    assert run(str(roster), "--mode", "upsert") == 0
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    assert undo(checkpoint, "--yes") == 0
    assert all(u.user_first == "Ann" for u in sim.users().values())
    # As if killed twice with a request in flight: 000's reached Glance, 001's never left.
    sim.state.update("001", {"user_first": "Renamed"})
    with sqlite3.connect(tmp_path / "r.csv.checkpoint.sqlite.undo.sqlite") as db:
        db.execute("UPDATE rows SET state='sending', outcome=NULL WHERE key IN ('000', '001')")
    before = len(updates(sim))
    assert undo(checkpoint, "--yes") == 0
    assert updates(sim)[before:] == ["001"]
    assert sim.users()["001"].user_first == "Ann"
    results = {r["PartnerUserID"]: r for r in sheet_rows(
        tmp_path / "r.csv.checkpoint.undo-results.xlsx")}
    assert results["000"]["Outcome"] == "updated"
    assert "confirmed with ShowUsers" in str(results["000"]["Message"])


def test_an_unfinished_undo_is_resumed_and_never_mixed_with_a_later_run(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001"), row("002")])
    assert run(str(roster)) == 0
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    assert undo(checkpoint) == 0  # the plan only: no journal yet
    assert not (tmp_path / "r.csv.checkpoint.sqlite.undo.sqlite").exists()
    assert undo(checkpoint, "--yes") == 0
    with sqlite3.connect(tmp_path / "r.csv.checkpoint.sqlite.undo.sqlite") as db:
        db.execute("UPDATE rows SET state='pending', outcome=NULL WHERE key='002'")
    sim.state.update("002", {"suspended": False})  # as if stopped before 002's reversal
    # The checkpoint is then reused by the next night's run on another roster.
    write(tmp_path / "r.csv", [row("003")])
    assert run(str(roster)) == 0
    capsys.readouterr()
    assert undo(checkpoint, "--yes") == 2
    assert "holds an unfinished undo of an earlier run" in capsys.readouterr().err
    assert not sim.users()["002"].suspended and not sim.users()["003"].suspended


def test_undo_never_suspends_the_signed_in_account(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [
        ["admin", sim.config.partner_login, "", "Ada", "Min", "", "", ""], row("001")])
    assert run(str(roster)) == 0
    capsys.readouterr()
    assert undo(tmp_path / "r.csv.checkpoint.sqlite", "--yes") == 0
    assert "row 2 admin: protected (--protect, or the signed-in account)" in \
        capsys.readouterr().out
    assert suspensions(sim) == {"admin": False, "001": True}


def test_undo_refuses_an_output_that_is_the_checkpoint_or_its_own_journal(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001")])
    assert run(str(roster)) == 0
    checkpoint = tmp_path / "r.csv.checkpoint.sqlite"
    before = checkpoint.read_bytes()
    capsys.readouterr()
    assert undo(checkpoint, "--out", str(checkpoint)) == 2
    assert undo(checkpoint, "--yes", "--out", str(tmp_path / "r.csv.checkpoint.sqlite.undo.sqlite")
                ) == 2
    err = capsys.readouterr().err
    assert err.count("bulk-provision: error:") == 2
    assert checkpoint.read_bytes() == before and not sim.users()["001"].suspended
