"""``bulk-provision run`` end to end against the real HTTPS simulator on loopback."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.group import Queued
from bulk_provision.journal.lifecycle import RowState
from bulk_provision.simulator import Simulator
from tests.workbooks import sheet_rows

PASSWORDS = [f"Roster-pw-{i:03d}!" for i in range(40)]
HEADER = ["Employee ID", "Glance Address", "Password", "First Name", "Last Name", "Email",
          "Role", "Audio Provider", "Notes"]


def write_roster(path: Path, n: int, *, extra: list[list[str]] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(n):
            w.writerow([f"{i:05d}", f"user{i}.demo.glance.net", PASSWORDS[i % len(PASSWORDS)],
                        "Zoë" if i % 3 == 0 else "Ann", f"Lee{i}", f"u{i}@example.com",
                        ("Agent", "Supervisor", "")[i % 3], "666" if i % 2 == 0 else "",
                        f"note {i}"])
        for row in extra or []:
            w.writerow(row)
    return path


def tuning(path: Path) -> Path:
    """Fast retries so the tests spend no time backing off."""
    path.write_text("backoff_base = 0.01\nbackoff_max = 0.05\npause_seconds = 0.05\n"
                    "progress_interval = 0.2\n", encoding="utf-8")
    return path


def env_for(sim: Simulator, **overrides: str) -> dict[str, str]:
    return {**sim.environment(), **overrides}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def new_user_calls(sim: Simulator) -> list[str]:
    return [r.partner_user_id for r in sim.request_log if r.operation == "NewUser"]


def run_cli(*args: str) -> int:
    return main(["run", *args, "--no-progress"])


def test_full_run_creates_everyone_and_the_audio_codes_land_in_the_workbook(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 12)
    assert run_cli(str(roster), "--rate", "0", "--config", str(tuning(workdir / "t.toml"))) == 0
    captured = capsys.readouterr()
    assert "created" in captured.out and "results: " in captured.out
    # not a terminal: periodic one-line summaries instead of a bar, the last one complete
    last = captured.err.strip().splitlines()[-1]
    assert re.fullmatch(
        r"bulk-provision: 12/12 rows, [\d.]+ rows/s, ETA 0 s, created=12 failed=0 retrying=0",
        last,
    ), last
    users = simulator.users()
    assert sorted(users) == [f"{i:05d}" for i in range(12)]
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert [r["Employee ID"] for r in rows] == [f"{i:05d}" for i in range(12)]
    assert {r["Outcome"] for r in rows} == {"created"}
    for r in rows:
        audio = users[str(r["Employee ID"])].audio
        if r["Audio Provider"] == "666":
            assert audio is not None
            assert (r["dialIn"], r["hostCode"], r["guestCode"]) == (
                audio["dialIn"], audio["hostCode"], audio["guestCode"])
        else:
            assert r["dialIn"] in (None, "")
        assert r["Password"] == "***"
        assert r["Notes"] == f"note {int(str(r['Employee ID']))}"
    assert users["00000"].user_pw == PASSWORDS[0]  # the password did travel to Glance


def test_invalid_rows_block_the_run_with_zero_requests(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    bad = ["99999", "-bad-address", "short", "", "", "", "", "", ""]
    roster = write_roster(workdir / "staff.csv", 3, extra=[bad])
    assert run_cli(str(roster)) == 3
    assert simulator.request_log == []
    assert "1 of 4 rows are invalid; nothing was sent" in capsys.readouterr().out
    outcomes = {r["Employee ID"]: r["Outcome"] for r in sheet_rows(
        workdir / "staff.results.xlsx")}
    assert outcomes == {"00000": "not attempted", "00001": "not attempted",
                        "00002": "not attempted", "99999": "invalid"}


def test_skip_invalid_provisions_the_valid_rows_and_exits_1(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
) -> None:
    use_sim(simulator)
    bad = ["99999", "-bad-address", "short", "", "", "", "", "", ""]
    roster = write_roster(workdir / "staff.csv", 3, extra=[bad])
    assert run_cli(str(roster), "--skip-invalid", "--rate", "0") == 1
    assert sorted(new_user_calls(simulator)) == ["00000", "00001", "00002"]
    outcomes = {r["Employee ID"]: r["Outcome"] for r in sheet_rows(
        workdir / "staff.results.xlsx")}
    assert outcomes["99999"] == "invalid"
    assert outcomes["00001"] == "created"


def test_wrong_password_stops_at_once_with_exit_4_and_resumes_later(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator, GLANCE_PARTNER_PW="not-the-password")
    roster = write_roster(workdir / "staff.csv", 40)
    assert run_cli(str(roster), "--workers", "4", "--rate", "0") == 4
    err = capsys.readouterr().err
    assert "re-run the same command to resume" in err
    assert "not-the-password" not in err
    # the first contact (one read-only ShowRoles) finds out: no write was even attempted
    assert [(r.operation, r.result) for r in simulator.request_log] == [("ShowRoles", "AUTH")]
    assert "check GLANCE_PARTNER_LOGIN and GLANCE_PARTNER_PW" in err
    outcomes = {r["Outcome"] for r in sheet_rows(workdir / "staff.results.xlsx")}
    assert outcomes == {"not attempted"}
    use_sim(simulator)
    assert run_cli(str(roster), "--workers", "4", "--rate", "0") == 0
    assert sorted(simulator.created_counts().values()) == [1] * 40


def test_duplicate_id_is_reported_as_exists_not_failed(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
) -> None:
    use_sim(simulator)
    simulator.add_user("00001", "someone.else.demo.glance.net")
    roster = write_roster(workdir / "staff.csv", 3)
    assert run_cli(str(roster), "--rate", "0") == 0
    outcomes = {r["Employee ID"]: (r["Outcome"], r["Message"]) for r in sheet_rows(
        workdir / "staff.results.xlsx")}
    assert outcomes["00001"][0] == "exists"
    assert "DUPLICATE_ID" in str(outcomes["00001"][1])


def test_permanent_errors_fail_the_row_and_exit_1(
    make_simulator: Callable[..., Simulator], use_sim: Callable[..., None], workdir: Path,
) -> None:
    sim = make_simulator(roles=("Agent",))  # "Supervisor" is not provisioned: NO_ROLE
    use_sim(sim)
    roster = write_roster(workdir / "staff.csv", 3)
    assert run_cli(str(roster), "--rate", "0") == 1
    rows = {r["Employee ID"]: r for r in sheet_rows(workdir / "staff.results.xlsx")}
    assert rows["00001"]["Outcome"] == "failed"
    assert str(rows["00001"]["Message"]).startswith("NO_ROLE")
    assert rows["00000"]["Outcome"] == "created"


def test_a_second_run_on_a_held_checkpoint_exits_4_at_once(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 3)
    from bulk_provision.roster.read import read_roster

    sha = read_roster(roster).sha256
    with Checkpoint.open(workdir / "staff.csv.checkpoint.sqlite", roster_sha256=sha,
                         roster_path=str(roster), mode="create"):
        assert run_cli(str(roster)) == 4
    assert simulator.request_log == []
    assert "checkpoint" in capsys.readouterr().err


def test_transient_failures_are_retried_until_created_exactly_once(
    make_simulator: Callable[..., Simulator], use_sim: Callable[..., None], workdir: Path,
) -> None:
    sim = make_simulator(fail_rate=0.2, drop_rate=0.15, seed=11)
    use_sim(sim)
    roster = write_roster(workdir / "staff.csv", 30)
    log = workdir / "calls.jsonl"
    code = run_cli(str(roster), "--rate", "0", "--max-retries", "12", "--log-file", str(log),
                   "--config", str(tuning(workdir / "t.toml")))
    assert code == 0
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(30)}
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    # one line per API call: the same calls, operation by operation, as the simulator saw
    logged = Counter(e["operation"] for e in events)
    assert logged == Counter(r.operation for r in sim.request_log)
    assert logged["ShowUsers"] > 0 and logged["ShowRoles"] == 1  # verifications, first contact
    assert any(e["maybe_committed"] and e["operation"] == "NewUser" for e in events)
    assert all(e["attempt"] >= 1 for e in events if e["operation"] == "NewUser")
    assert all({"time", "partner_user_id", "attempt", "outcome", "http_status", "duration_ms"}
               <= e.keys() for e in events)
    outcomes = {r["Outcome"] for r in sheet_rows(workdir / "staff.results.xlsx")}
    assert outcomes == {"created"}


def test_a_dead_server_stops_at_the_first_contact_with_exit_4_and_no_writes(
    make_simulator: Callable[..., Simulator], use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = make_simulator(fail_rate=1.0)
    use_sim(sim)
    roster = write_roster(workdir / "staff.csv", 50)
    assert run_cli(str(roster), "--config", str(tuning(workdir / "t.toml"))) == 4
    captured = capsys.readouterr()
    assert "the first contact with Glance (ShowRoles) kept failing" in captured.err
    assert "not attempted       50" in captured.out
    assert {r.operation for r in sim.request_log} == {"ShowRoles"}
    sim.set_faults(fail_rate=0)
    assert run_cli(str(roster), "--rate", "0") == 0
    assert len(sim.created_counts()) == 50


def test_many_consecutive_failures_mid_run_stop_resumably_with_exit_4(
    make_simulator: Callable[..., Simulator], workdir: Path,
) -> None:
    sim = make_simulator()
    roster = write_roster(workdir / "staff.csv", 300)
    config = tuning(workdir / "t.toml")
    with config.open("a", encoding="utf-8") as f:
        f.write("max_consecutive_failures = 5\n")
    proc = spawn(roster, sim, "--config", str(config), "--workers", "2", "--rate", "40")
    deadline = time.monotonic() + 60
    while not any(r.operation == "NewUser" for r in sim.request_log):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    sim.set_faults(fail_rate=1.0)  # Glance goes down in the middle of the run
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "in a row failed" in err and "re-run the same command to resume" in err
    failed_calls = [r for r in sim.request_log if r.result == "HTTP503"]
    assert len(failed_calls) < 40  # stopped instead of burning through 300 rows
    sim.set_faults(fail_rate=0)
    again = spawn(roster, sim, "--config", str(config))
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(300)}


def test_formula_looking_cells_come_out_as_the_same_text(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
) -> None:
    use_sim(simulator)
    roster = workdir / "staff.csv"
    with roster.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["PartnerUserID", "UserAddress", "UserFirst", "Notes"])
        w.writerow(["1", "a.demo.glance.net", "+33 6 12", '=HYPERLINK("http://x","y")'])
        w.writerow(["2", "b.demo.glance.net", "@SUM(A1)", "-2+3"])
    assert run_cli(str(roster), "--rate", "0") == 0
    wb = openpyxl.load_workbook(workdir / "staff.results.xlsx")
    try:
        ws = wb["Results"]
        cells = {c.value: c.data_type for row in ws.iter_rows(min_row=2) for c in row[:4]}
    finally:
        wb.close()
    for text in ("+33 6 12", '=HYPERLINK("http://x","y")', "@SUM(A1)", "-2+3"):
        assert cells[text] == "s"
    assert simulator.users()["2"].user_first == "@SUM(A1)"


# -- subprocess runs: SIGKILL, SIGINT, secrets -------------------------------------------------


def spawn(roster: Path, sim: Simulator, *extra: str, env: dict[str, str] | None = None,
          ) -> subprocess.Popen[str]:
    full_env = {**os.environ, **(env or env_for(sim))}
    full_env.pop("REQUESTS_CA_BUNDLE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bulk_provision", "run", str(roster), "--no-progress",
         "--rate", "0", "--workers", "4", *extra],
        env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        cwd=roster.parent,
    )


def wait_for_requests(sim: Simulator, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(sim.request_log) < count and proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"the run did not reach {count} requests within 60 s")
        time.sleep(0.01)


def test_sigkill_at_several_points_then_resume_creates_everyone_exactly_once(
    make_simulator: Callable[..., Simulator], workdir: Path,
) -> None:
    sim = make_simulator(latency_ms=15, drop_rate=0.15, seed=5)
    roster = write_roster(workdir / "staff.csv", 60)
    config = str(tuning(workdir / "t.toml"))
    for kill_after in (3, 15, 30, 45):
        proc = spawn(roster, sim, "--config", config, "--max-retries", "20")
        wait_for_requests(sim, kill_after, proc)
        proc.kill()
        proc.communicate(timeout=30)
    for _ in range(5):
        proc = spawn(roster, sim, "--config", config, "--max-retries", "20")
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            break
        assert proc.returncode == 1, err
    assert proc.returncode == 0, err
    keys = [f"{i:05d}" for i in range(60)]
    assert sim.created_counts() == {k: 1 for k in keys}
    assert sorted(sim.users()) == keys
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert [r["Employee ID"] for r in rows] == keys
    assert {r["Outcome"] for r in rows} == {"created"}
    users = sim.users()
    for r in rows:
        if r["dialIn"]:
            audio = users[str(r["Employee ID"])].audio
            assert audio is not None and audio["dialIn"] == r["dialIn"]


def test_sigint_writes_a_partial_workbook_and_leaves_a_resumable_checkpoint(
    make_simulator: Callable[..., Simulator], workdir: Path,
) -> None:
    sim = make_simulator(latency_ms=30)
    roster = write_roster(workdir / "staff.csv", 200)
    proc = spawn(roster, sim)
    wait_for_requests(sim, 10, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "re-run the same command to resume" in err
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert len(rows) == 200
    outcomes = [r["Outcome"] for r in rows]
    assert "created" in outcomes and "not attempted" in outcomes
    created_before = len(sim.created_counts())
    assert created_before < 200
    proc = spawn(roster, sim)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(200)}


def test_no_secret_reaches_any_artefact(
    simulator: Simulator, workdir: Path,
) -> None:
    roster = write_roster(workdir / "staff.csv", 20)
    log = workdir / "calls.jsonl"
    proc = spawn(roster, simulator, "--log-file", str(log))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    secrets = [simulator.config.partner_pw, *PASSWORDS[:20]]
    blobs = {"stdout": out.encode(), "stderr": err.encode(), "log": log.read_bytes()}
    checkpoint = workdir / "staff.csv.checkpoint.sqlite"
    for path in workdir.glob("staff.csv.checkpoint.sqlite*"):
        blobs[path.name] = path.read_bytes()
    assert checkpoint.name in blobs
    with zipfile.ZipFile(workdir / "staff.results.xlsx") as z:
        for name in z.namelist():
            blobs[name] = z.read(name)
    for secret in secrets:
        for where, blob in blobs.items():
            assert secret.encode() not in blob, f"secret found in {where}"


def test_a_full_disk_mid_run_stops_resumably_and_still_writes_the_workbook(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 20)
    real_commit = Checkpoint._commit_answers  # the group commit of the answers
    calls = {"n": 0}

    def failing_commit(self: Checkpoint, batch: Sequence[Queued]) -> None:
        calls["n"] += len(batch)
        if calls["n"] > 5:
            raise sqlite3.OperationalError("database or disk is full")
        real_commit(self, batch)

    monkeypatch.setattr(Checkpoint, "_commit_answers", failing_commit)
    assert run_cli(str(roster), "--rate", "0", "--workers", "2") == 4
    err = capsys.readouterr().err
    assert "could not be written: the disk is full (database or disk is full)" in err
    assert "Traceback" not in err
    assert len(sheet_rows(workdir / "staff.results.xlsx")) == 20
    monkeypatch.setattr(Checkpoint, "_commit_answers", real_commit)
    assert run_cli(str(roster), "--rate", "0") == 0
    assert simulator.created_counts() == {f"{i:05d}": 1 for i in range(20)}
    assert {r["Outcome"] for r in sheet_rows(workdir / "staff.results.xlsx")} == {"created"}


def test_an_unwritable_results_path_is_refused_before_any_request(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 3)
    assert run_cli(str(roster), "--out", str(workdir / "no" / "such" / "r.xlsx")) == 2
    assert "folder" in capsys.readouterr().err
    assert run_cli(str(roster), "--out", str(workdir / "r.csv")) == 2
    assert simulator.request_log == []


def test_a_nightly_roster_replaces_a_finished_run_but_never_an_unfinished_one(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 3)
    assert run_cli(str(roster), "--rate", "0") == 0
    write_roster(roster, 5)  # tomorrow's file, same name: two new people
    assert run_cli(str(roster), "--rate", "0") == 0
    outcomes = [r["Outcome"] for r in sheet_rows(workdir / "staff.results.xlsx")]
    assert outcomes == ["exists", "exists", "exists", "created", "created"]
    # an unfinished run of another roster is refused, not silently dropped
    use_sim(simulator, GLANCE_PARTNER_PW="wrong-password")
    write_roster(roster, 7)
    assert run_cli(str(roster), "--rate", "0") == 4
    capsys.readouterr()
    use_sim(simulator)
    write_roster(roster, 8)
    assert run_cli(str(roster), "--rate", "0") == 2
    assert "--fresh" in capsys.readouterr().err
    assert run_cli(str(roster), "--rate", "0", "--fresh") == 0
    assert sorted(simulator.created_counts().values()) == [1] * 8


def test_credentials_revoked_mid_run_stop_within_a_handful_of_requests(
    make_simulator: Callable[..., Simulator], workdir: Path,
) -> None:
    sim = make_simulator()
    roster = write_roster(workdir / "staff.csv", 300)
    proc = spawn(roster, sim, "--workers", "4", "--rate", "40")
    deadline = time.monotonic() + 60
    while not any(r.operation == "NewUser" for r in sim.request_log):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    sim.config.partner_pw = "rotated-by-the-admin"  # the password changes under the run
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    refused = [r for r in sim.request_log if r.result == "AUTH"]
    assert 1 <= len(refused) <= 4  # one per worker in flight at most, not one per row
    with Checkpoint.read_only(workdir / "staff.csv.checkpoint.sqlite") as journal:
        # AUTH is a definite "nothing done": no row in doubt
        assert journal.in_state(RowState.IN_DOUBT) == journal.in_state(RowState.SENDING) == []
        assert len(journal.in_state(RowState.PENDING)) == 300 - len(sim.created_counts())


def test_re_running_a_finished_run_sends_nothing_and_says_so(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 4)
    assert run_cli(str(roster), "--rate", "0") == 0
    before = len(simulator.request_log)
    capsys.readouterr()
    assert run_cli(str(roster), "--rate", "0") == 0
    assert len(simulator.request_log) == before
    captured = capsys.readouterr()
    assert "nothing left to send: an earlier run finished all 4 rows" in captured.err
    assert "created              4" in captured.out


def test_ctrl_c_twice_still_journals_what_glance_confirmed_and_writes_the_workbook(
    make_simulator: Callable[..., Simulator], workdir: Path,
) -> None:
    sim = make_simulator(latency_ms=1500)
    roster = write_roster(workdir / "staff.csv", 40)
    proc = spawn(roster, sim)
    wait_for_requests(sim, 3, proc)  # first contact, then NewUsers in flight
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    seen = ""
    while "stopping:" not in seen:  # the run says it is stopping (bounded by the timeout)
        line = proc.stderr.readline()
        assert line, "the run ended without saying it was stopping"
        seen += line
    proc.send_signal(signal.SIGINT)  # impatient: must not throw away what is in flight
    out, err = proc.communicate(timeout=60)
    err = seen + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "still stopping" in err
    created = set(sim.created_counts())
    assert created  # requests were in flight and Glance carried them out
    with Checkpoint.read_only(workdir / "staff.csv.checkpoint.sqlite") as journal:
        done = {a.key for a in journal.in_state(RowState.DONE)}
        assert done == created  # every confirmed outcome journaled
        assert journal.in_state(RowState.IN_DOUBT) == journal.in_state(RowState.SENDING) == []
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert {str(r["Employee ID"]) for r in rows if r["Outcome"] == "created"} == created


def test_ids_with_wildcard_characters_are_verified_exactly_after_dropped_answers(
    make_simulator: Callable[..., Simulator], workdir: Path,
) -> None:
    sim = make_simulator(drop_rate=0.5, seed=3)
    roster = workdir / "odd.csv"
    keys = ["-none-", "A*", "*", "x*y", "plain"]
    with roster.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["PartnerUserID", "UserAddress"])
        w.writerows([key, f"odd{i}.demo.glance.net"] for i, key in enumerate(keys))
    proc = spawn(roster, sim, "--max-retries", "30", "--config", str(tuning(workdir / "t.toml")))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert sim.created_counts() == dict.fromkeys(keys, 1)
    outcomes = {str(r["PartnerUserID"]): r["Outcome"] for r in sheet_rows(
        workdir / "odd.results.xlsx")}
    assert outcomes == dict.fromkeys(keys, "created")  # never "exists" for our own user
    assert any(r.result == "DROPPED" and r.operation == "NewUser" for r in sim.request_log)


def test_deleting_an_unknown_user_fails_even_after_throttled_attempts(
    make_simulator: Callable[..., Simulator], use_sim: Callable[..., None], workdir: Path,
) -> None:
    sim = make_simulator(fail_rate=0.5, seed=4)
    use_sim(sim)
    roster = workdir / "del.csv"
    with roster.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["PartnerUserID", "UserAddress", "Action"])
        w.writerows([f"ghost{i}", f"ghost{i}.demo.glance.net", "delete"] for i in range(10))
    code = run_cli(str(roster), "--rate", "0", "--max-retries", "30",
                   "--config", str(tuning(workdir / "t.toml")))
    assert code == 1
    rows = sheet_rows(workdir / "del.results.xlsx")
    assert {r["Outcome"] for r in rows} == {"failed"}  # a 503 did nothing: not "deleted"
    assert any(int(str(r["Attempts"])) > 1 for r in rows)


@pytest.mark.parametrize(
    ("setting", "message"),
    [("mode = 'Sync'", "mode 'Sync' is not one of create, upsert, sync"),
     ("audio_provider = '2'", "audio_provider '2' must be 1 or 666"),
     ("max_retries = -1", "--max-retries must be 0 or more")],
)
def test_bad_settings_in_the_config_file_are_refused_before_anything(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str], setting: str, message: str,
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 2)
    (workdir / "bulk-provision.toml").write_text(setting + "\n", encoding="utf-8")
    assert run_cli(str(roster)) == 2
    assert message in capsys.readouterr().err
    assert simulator.request_log == []
