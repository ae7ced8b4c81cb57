"""``bulk-provision export`` end to end against the simulator, and the round trip through run."""

from __future__ import annotations

import itertools
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import RunStopped, UsageError
from bulk_provision.glance.models import GlanceUser
from bulk_provision.jobs.export import Tally, matching_users, parse_filter, prefetched
from bulk_provision.report.export_report import write_export
from bulk_provision.roster.read import read_roster
from bulk_provision.roster.validation import validate_roster
from bulk_provision.simulator import Simulator
from tests.e2e import test_run
from tests.e2e.test_run import run_cli, tuning
from tests.workbooks import sheet_rows

workdir = test_run.workdir  # the same fixture
WRITES = {"NewUser", "UpdateUser", "DeleteUser"}
HEADER = ["PartnerUserID", "UserAddress", "UserPW", "UserFirst", "UserLast", "UserEmail",
          "UserRole", "AudioProvider", "Action", "Suspended"]


def seed(sim: Simulator) -> None:
    sim.add_user("00042", "ann.demo.glance.net", user_first="Ann", user_last="Lee",
                 user_email="ann@example.com", user_role="Agent", user_pw="Secret-pw-1")
    sim.add_user("00043", "bob.demo.glance.net", user_first="=HYPERLINK(\"x\")",
                 user_last="O'Neil; Jr", user_role="Supervisor", suspended=True)
    sim.add_user("7", "cy.demo.glance.net", user_first="Zoë",  # no role, no email
                 user_last="A&B <c> _x0041_")  # read back exactly, not as "A"
    sim.add_user("E-9", "dee.demo.glance.net", user_role="agent", user_email="d@example.com")


def export(*args: str) -> int:
    return main(["export", *args])


def test_export_writes_every_user_as_text_and_upsert_of_it_sends_no_write(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    seed(simulator)
    assert export("--out", "users.xlsx") == 0
    assert capsys.readouterr().out == "4 of 4 users exported to users.xlsx\n"
    out = workdir / "users.xlsx"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = sheet_rows(out, "Users")
    assert list(rows[0]) == HEADER
    assert [r["PartnerUserID"] for r in rows] == ["00042", "00043", "7", "E-9"]  # text
    assert rows[1]["UserFirst"] == '=HYPERLINK("x")'  # a value, not a formula
    assert [r["Suspended"] for r in rows] == ["no", "yes", "no", "no"]
    assert {r["UserPW"] for r in rows} == {None}  # Glance never returns passwords
    assert rows[2]["UserRole"] is None and rows[3]["UserRole"] == "Agent"
    # the roster reader takes the export back: headers known, Suspended carried, valid
    roster = read_roster(out)
    assert list(roster.frame.columns) == HEADER and roster.frame.loc[2, "PartnerUserID"] == "00042"
    assert validate_roster(roster).ok

    before = len(simulator.request_log)
    config = str(tuning(workdir / "t.toml"))
    assert run_cli(str(out), "--mode", "upsert", "--rate", "0", "--config", config) == 0
    sent = simulator.request_log[before:]
    assert [r.operation for r in sent if r.operation in WRITES] == []
    assert {r.operation for r in sent} == {"ShowUsers"}
    results = sheet_rows(workdir / "users.results.xlsx")
    assert {r["Outcome"] for r in results} == {"unchanged"}
    assert simulator.users()["00043"].suspended


def test_filters_are_wildcards_on_any_column_and_all_must_match(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    seed(simulator)
    assert export("--out", "a.xlsx", "--filter", "UserRole=agent", "--filter", "Email=*@*") == 0
    out = capsys.readouterr().out
    assert out == "2 of 4 users matching UserRole=agent and UserEmail=*@* exported to a.xlsx\n"
    assert [r["PartnerUserID"] for r in sheet_rows(workdir / "a.xlsx", "Users")] == [
        "00042", "E-9"]
    assert export("--out", "b.xlsx", "--filter", "Role=-none-") == 0
    assert [r["PartnerUserID"] for r in sheet_rows(workdir / "b.xlsx", "Users")] == ["7"]
    assert export("--out", "c.xlsx", "--filter", "suspended=yes",
                  "--filter", "UserAddress=b*.demo.glance.net") == 0
    assert [r["PartnerUserID"] for r in sheet_rows(workdir / "c.xlsx", "Users")] == ["00043"]


def test_a_bad_filter_or_out_path_is_refused_before_any_request(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    assert export("--filter", "UserPW=x") == 2
    assert "UserPW is not one of PartnerUserID, UserAddress" in capsys.readouterr().err
    assert export("--filter", "Agent") == 2
    assert "write FIELD=PATTERN" in capsys.readouterr().err
    (workdir / "bulk-provision.toml").write_text("timeout = 5\n", encoding="utf-8")
    assert export("--out", "bulk-provision.toml") == 2
    assert ("--out bulk-provision.toml: the export workbook is an Excel file, name it .xlsx"
            in capsys.readouterr().err)
    assert export("--out", "missing/u.xlsx") == 2
    assert "folder missing does not exist" in capsys.readouterr().err
    assert simulator.request_log == []


def test_rejected_credentials_end_in_one_line_and_no_file(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator, GLANCE_PARTNER_PW="wrong-password")
    assert export() == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GLANCE_PARTNER_PW" in err[0] and "wrong-password" not in err[0]
    assert list(workdir.glob("glance-users-*.xlsx")) == []


def test_the_default_name_carries_the_date_and_keyless_users_go_apart(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    seed(simulator)
    simulator.add_user("", "nokey.demo.glance.net")  # PAPI cannot address it
    assert export() == 0
    [made] = workdir.glob("glance-users-*.xlsx")
    assert made.name[len("glance-users-"):-len(".xlsx")].isdigit()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"4 of 5 users exported to {made.name}"
    assert out[1].startswith("without a PartnerUserID: 1 more, on the sheet 'No PartnerUserID'")
    assert [r["UserAddress"] for r in sheet_rows(made, "No PartnerUserID")] == [
        "nokey.demo.glance.net"]
    assert len(read_roster(made).frame) == 4  # run reads the first sheet only


def test_temporary_failures_start_the_listing_over_and_it_completes(
    make_simulator: Callable[..., Simulator], use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = make_simulator(fail_rate=0.5, seed=3)
    use_sim(sim)
    seed(sim)
    assert export("--out", "u.xlsx", "--config", str(tuning(workdir / "t.toml"))) == 0
    results = [r.result for r in sim.request_log if r.operation == "ShowUsers"]
    assert "HTTP503" in results and results[-1] == "OK"
    assert len(sheet_rows(workdir / "u.xlsx", "Users")) == 4
    sim.set_faults(fail_rate=1.0)
    assert export("--out", "v.xlsx", "--config", str(workdir / "t.toml")) == 4
    assert "ShowUsers (export) kept failing" in capsys.readouterr().err
    assert not (workdir / "v.xlsx").exists()


def test_every_page_is_read_and_written_in_order(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    keys = [f"{n:05d}" for n in range(2500)]
    for key in keys:
        simulator.add_user(key, f"u{key}.demo.glance.net", suspended=key.endswith("7"))
    assert export("--out", "all.xlsx", "--filter", "Suspended=no") == 0
    assert capsys.readouterr().out.startswith("2250 of 2500 users matching Suspended=no")
    pages = [r for r in simulator.request_log if r.operation == "ShowUsers"]
    assert len(pages) == 3 and {r.result for r in pages} == {"OK"}
    rows = sheet_rows(workdir / "all.xlsx", "Users")
    assert [r["PartnerUserID"] for r in rows] == [k for k in keys if not k.endswith("7")]


def _endless(page_count: int) -> Iterator[GlanceUser]:
    for n in itertools.count():
        yield GlanceUser(f"id{n}", f"u{n}.demo.glance.net")


def test_listing_is_bounded_and_a_repeated_key_stops_it() -> None:
    with pytest.raises(RunStopped, match="past 50 users"):
        list(matching_users(prefetched(_endless(1000)), [], Tally(), max_users=50))
    twice = [GlanceUser("a", "a.x"), GlanceUser("b", "b.x"), GlanceUser("a", "a.x")]
    with pytest.raises(RunStopped, match="listed PartnerUserID 'a' twice"):
        list(matching_users(twice, [], Tally()))
    keyless = [GlanceUser("", "nokey.x"), GlanceUser("", "nokey2.x"), GlanceUser("a", "a.x")]
    tally = Tally()
    assert [u.partner_user_id for u in matching_users(keyless, [], tally)] == ["a"]
    assert [u.user_address for u in tally.without_key] == ["nokey.x", "nokey2.x"]
    assert (tally.seen, tally.exported) == (3, 1)
    with pytest.raises(UsageError):
        parse_filter("=x")


def test_a_failure_while_paging_leaves_no_file_and_an_older_export_intact(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    for n in range(30):
        simulator.add_user(f"{n:03d}", f"u{n}.demo.glance.net")
    assert export("--out", "u.xlsx") == 0
    before = (workdir / "u.xlsx").read_bytes()

    def broken(page_count: int) -> Iterator[GlanceUser]:
        yield GlanceUser("1", "a.x")
        raise RunStopped("ShowUsers: too many transient failures")

    tally = Tally()
    with pytest.raises(RunStopped):
        write_export(workdir / "u.xlsx", matching_users(prefetched(broken(9)), [], tally))
    assert (workdir / "u.xlsx").read_bytes() == before
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".u.xlsx")] == []
