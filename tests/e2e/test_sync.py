"""``--mode upsert`` / ``--mode sync``, per-row actions and ``plan``, against the simulator."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.workbooks import sheet_rows

HEADER = ["PartnerUserID", "UserAddress", "UserPW", "UserFirst", "UserLast", "UserEmail",
          "UserRole", "Action"]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def row(key: str, first: str = "Ann", *, pw: str = "", role: str = "", email: str = "",
        action: str = "") -> list[str]:
    return [key, f"u{key}.demo.glance.net", pw, first, "Lee", email, role, action]


@pytest.fixture
def sim(simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        ) -> Iterator[Simulator]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    for key, value in {
        "GLANCE_BASE_URL": simulator.base_url,
        "GLANCE_CA_BUNDLE": str(simulator.ca_bundle),
        "GLANCE_PARTNER_LOGIN": simulator.config.partner_login,
        "GLANCE_PARTNER_PW": simulator.config.partner_pw,
    }.items():
        monkeypatch.setenv(key, value)
    yield simulator


def seed(sim: Simulator, n: int, *, suspended: tuple[str, ...] = ()) -> None:
    for i in range(n):
        key = f"{i:03d}"
        sim.add_user(key, f"u{key}.demo.glance.net", user_first="Ann", user_last="Lee",
                     user_email=f"{key}@example.com", user_role="Agent",
                     suspended=key in suspended)


def writes(sim: Simulator) -> list[tuple[str, str]]:
    return [(r.operation, r.partner_user_id) for r in sim.request_log
            if r.operation in ("NewUser", "UpdateUser", "DeleteUser")]


def run(*args: str) -> int:
    return main(["run", *args, "--rate", "0", "--no-progress", "--fresh"])


def outcomes(path: Path) -> dict[str, tuple[object, object]]:
    return {str(r["PartnerUserID"]): (r["Outcome"], r["Message"]) for r in sheet_rows(path)}


def test_upsert_sends_only_changed_fields_and_nothing_the_second_time(
    sim: Simulator, tmp_path: Path,
) -> None:
    seed(sim, 4)
    roster = write(tmp_path / "r.csv", [
        row("000"),                               # unchanged (empty email: leave as is)
        row("001", "Anne"),                       # first name changed
        row("002", role="Supervisor"),            # role changed
        row("003", pw="New-password-1"),          # password only: not sent without the flag
        row("004", "New"),                        # new user
    ])
    assert run(str(roster), "--mode", "upsert") == 0
    assert sorted(writes(sim)) == [("NewUser", "004"), ("UpdateUser", "001"),
                                   ("UpdateUser", "002")]
    updates = {r.partner_user_id: r.fields for r in sim.request_log
               if r.operation == "UpdateUser"}
    assert set(updates["001"]) == {"partneruserid", "userfirst"}
    assert set(updates["002"]) == {"partneruserid", "userrole"}
    users = sim.users()
    assert users["001"].user_first == "Anne"
    assert users["001"].user_email == "001@example.com"  # untouched
    assert users["002"].user_role == "Supervisor"
    result = outcomes(tmp_path / "r.results.xlsx")
    assert [result[k][0] for k in ("000", "001", "002", "003", "004")] == [
        "unchanged", "updated", "updated", "unchanged", "created"]
    before = len(writes(sim))
    assert run(str(roster), "--mode", "upsert") == 0
    assert len(writes(sim)) == before  # the second identical run writes nothing


def test_set_passwords_sends_the_roster_password(sim: Simulator, tmp_path: Path) -> None:
    seed(sim, 1)
    roster = write(tmp_path / "r.csv", [row("000", pw="New-password-1")])
    assert run(str(roster), "--mode", "upsert", "--set-passwords") == 0
    assert sim.users()["000"].user_pw == "New-password-1"


def test_sync_suspends_missing_users_reinstates_returning_ones_and_honours_protect(
    sim: Simulator, tmp_path: Path,
) -> None:
    seed(sim, 30, suspended=("001",))
    sim.add_user("boss", "boss.admins.demo.glance.net")
    roster_rows = [row(f"{i:03d}") for i in range(30) if i not in (5, 6)]
    roster = write(tmp_path / "r.csv", roster_rows)
    code = run(str(roster), "--mode", "sync", "--protect", "*.admins.demo.glance.net")
    assert code == 0
    users = sim.users()
    assert users["005"].suspended and users["006"].suspended
    assert not users["001"].suspended  # back in the roster: reinstated
    assert not users["boss"].suspended  # protected
    assert sorted(writes(sim)) == [("UpdateUser", "001"), ("UpdateUser", "005"),
                                   ("UpdateUser", "006")]
    result = outcomes(tmp_path / "r.results.xlsx")
    assert result["005"] == ("suspended", "not in the roster (u005.demo.glance.net): suspended")
    assert result["001"][0] == "reinstated"


def test_sync_guard_refuses_an_oversized_suspension_with_zero_writes(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 20)
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}") for i in range(10)])
    assert run(str(roster), "--mode", "sync") == 2
    err = capsys.readouterr().err
    assert "sync would suspend 10 of 20 active users" in err
    assert writes(sim) == []
    # plan still shows whom sync would have suspended, so the admin can see why
    assert main(["plan", str(roster), "--mode", "sync", "--out", str(tmp_path / "p.xlsx")]) == 2
    suspends = [line for line in plan_lines(tmp_path / "p.xlsx") if line[2] == "suspend"]
    assert {line[1] for line in suspends} == {f"{i:03d}" for i in range(10, 20)}
    assert writes(sim) == []
    assert run(str(roster), "--mode", "sync", "--max-suspend", "10") == 0
    assert sum(u.suspended for u in sim.users().values()) == 10


def test_per_row_actions_override_the_mode(sim: Simulator, tmp_path: Path) -> None:
    seed(sim, 4, suspended=("001",))
    roster = write(tmp_path / "r.csv", [
        row("000", action="suspend"),
        row("001", action="reinstate"),
        row("002", action="delete"),
        row("003", "Changed", action="update"),
    ])
    assert run(str(roster), "--mode", "upsert") == 0
    users = sim.users()
    assert users["000"].suspended and not users["001"].suspended
    assert "002" not in users and users["003"].user_first == "Changed"
    result = outcomes(tmp_path / "r.results.xlsx")
    assert [result[k][0] for k in ("000", "001", "002", "003")] == [
        "suspended", "reinstated", "deleted", "updated"]
    wb = openpyxl.load_workbook(tmp_path / "r.results.xlsx", read_only=True)
    try:
        header = next(wb["Results"].iter_rows(max_row=1, values_only=True))
    finally:
        wb.close()
    assert header.count("Action") == 1 and "Action (roster)" in header


def plan_lines(path: Path) -> list[tuple[object, ...]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(r) for r in wb["Plan"].iter_rows(min_row=2, values_only=True)]
    finally:
        wb.close()


def test_plan_is_read_only_and_run_then_does_exactly_that(
    sim: Simulator, tmp_path: Path,
) -> None:
    seed(sim, 5)
    roster = write(tmp_path / "r.csv", [
        row("000"), row("001", "Anne", pw="New-password-1"), row("002", role="Supervisor"),
        row("009", "New"),
    ])
    assert main(["plan", str(roster), "--mode", "sync", "--max-suspend", "5",
                 "--set-passwords", "--out", str(tmp_path / "p.xlsx")]) == 0
    assert writes(sim) == []
    lines = plan_lines(tmp_path / "p.xlsx")
    assert (2, "000", "no change", None, None, None) in lines
    assert (3, "001", "update", "UserFirst", "Ann", "Anne") in lines
    assert (3, "001", "update", "UserPW", None, "(will be set)") in lines
    assert (4, "002", "update", "UserRole", "Agent", "Supervisor") in lines
    assert (5, "009", "create", "UserAddress", None, "u009.demo.glance.net") in lines
    suspended = {line[1] for line in lines if line[2] == "suspend"}
    assert suspended == {"003", "004"}
    assert "New-password-1" not in str(lines)
    assert run(str(roster), "--mode", "sync", "--max-suspend", "5", "--set-passwords") == 0
    planned = {(line[1], line[2]) for line in lines if line[2] != "no change"}
    done = {(k, {"NewUser": "create", "UpdateUser": "update"}[op]) for op, k in writes(sim)}
    assert {(k, "update" if a == "suspend" else a) for k, a in planned} == done


def test_a_resumed_upsert_finishes_the_recorded_plan_even_if_glance_changed(
    sim: Simulator, tmp_path: Path, papi: Any,
) -> None:
    seed(sim, 3)
    roster = write(tmp_path / "r.csv", [row("000", "X"), row("001", "Y"), row("002", "Z")])
    command = [sys.executable, "-m", "bulk_provision", "run", str(roster), "--mode", "upsert",
               "--workers", "1", "--no-progress"]
    env = {**os.environ, "GLANCE_BASE_URL": sim.base_url, "GLANCE_CA_BUNDLE": str(sim.ca_bundle),
           "GLANCE_PARTNER_LOGIN": sim.config.partner_login,
           "GLANCE_PARTNER_PW": sim.config.partner_pw}
    # One update a second: killed (-9) right after the first, the plan is in the checkpoint.
    proc = subprocess.Popen([*command, "--rate", "1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(r.operation == "UpdateUser" for r in sim.request_log):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    proc.kill()
    proc.communicate(timeout=30)
    # Glance changes meanwhile: someone already renamed 001. A new plan would skip it; the
    # resumed run finishes the plan it recorded instead.
    papi.ok("UpdateUser", PartnerUserID="001", UserFirst="Y")
    done = subprocess.run([*command, "--rate", "0"], env=env, capture_output=True, text=True,
                          encoding="utf-8",
                          timeout=60)
    assert done.returncode == 0, done.stderr
    updates = [r.partner_user_id for r in sim.request_log
               if r.operation == "UpdateUser" and r.result == "OK"]
    # 001 twice: by hand, then by the recorded plan (a fresh plan would have skipped it).
    # 000 may come twice: killed before its outcome was journaled, it is re-sent (idempotent).
    assert updates.count("001") == 2 and updates.count("002") == 1 and "000" in updates
    assert [u.user_first for u in sim.users().values()] == ["X", "Y", "Z"]


def test_check_roles_uses_showroles_plus_the_configured_roles(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 2)  # both have role Agent: ShowRoles lists Agent only (Supervisor has nobody)
    roster = write(tmp_path / "r.csv", [row("010", role="Supervisor"), row("011", role="agent")])
    assert main(["validate", str(roster), "--check-roles"]) == 3
    assert "Supervisor" in capsys.readouterr().out
    assert [r.operation for r in sim.request_log] == ["ShowRoles"]
    assert main(["validate", str(roster), "--check-roles", "--roles", "Supervisor"]) == 0
    bad = write(tmp_path / "bad.csv", [row("012", role="Astronaut")])
    assert run(str(bad), "--check-roles") == 3
    assert writes(sim) == []
    assert main(["plan", str(bad), "--check-roles", "--out", str(tmp_path / "p.xlsx")]) == 3
    assert writes(sim) == []


def test_sync_leaves_users_without_a_partner_user_id_alone(
    sim: Simulator, tmp_path: Path,
) -> None:
    seed(sim, 20)
    sim.add_user("", "portal.made.demo.glance.net")  # made in the portal: no PartnerUserID
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}") for i in range(20)])
    assert run(str(roster), "--mode", "sync") == 0
    assert writes(sim) == []  # PAPI cannot address it: nothing sent, nothing failed
    assert not any(u.suspended for u in sim.users().values())
