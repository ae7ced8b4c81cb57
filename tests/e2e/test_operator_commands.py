"""Findings of the hostile review of the operator commands (run --plan, undo, export, --json):
each test reproduces one finding and holds the fix."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.conftest import RawPapi
from tests.e2e import test_notify, test_run
from tests.e2e.test_run import tuning, write_roster
from tests.workbooks import sheet_rows

workdir = test_run.workdir  # the same fixture
ca, receiver = test_notify.ca, test_notify.receiver

XHEADER = ["Employee ID", "Glance Address", "Password", "First Name", "Last Name", "Email", "Role"]


def _book(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def _writes(sim: Simulator) -> list[object]:
    return [r for r in sim.request_log if r.committed]


# 1: run --plan reads the roster as the plan did ---------------------------------------------
def test_run_plan_with_another_sheet_is_refused_with_no_write(
    workdir: Path, simulator: Simulator, use_sim
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    _book(workdir / "two.xlsx", {
        "Staff": [XHEADER, ["10001", "s1.demo.glance.net", "Staff-pw-1!", "S", "One",
                            "s1@example.com", "Agent"]],
        "Other": [XHEADER, ["99999", "x1.demo.glance.net", "Other-pw-9!", "X", "Nine",
                            "x@example.com", "Supervisor"]],
    })
    assert main(["plan", "two.xlsx", "--sheet", "Staff", "--out", "p.xlsx"]) == 0
    assert main(["run", "two.xlsx", "--plan", "p.xlsx", "--sheet", "Other"]) == 2
    assert _writes(simulator) == []
    assert main(["run", "two.xlsx", "--plan", "p.xlsx"]) == 0  # the plan's own sheet
    assert simulator.users()["10001"].user_pw == "Staff-pw-1!"
    assert "99999" not in simulator.users()


def _code_roster(workdir: Path) -> None:
    with (workdir / "staff.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Employee ID", "Glance Address", "Code A", "Code B", "First Name",
                    "Last Name", "Email", "Role"])
        w.writerow(["10001", "s1.demo.glance.net", "Initial-pw-1!", "Reset-pw-2!", "S", "One",
                    "s1@example.com", "Agent"])
    (workdir / "a.toml").write_text('"Code A" = "UserPW"\n', encoding="utf-8")
    (workdir / "b.toml").write_text('"Code B" = "UserPW"\n', encoding="utf-8")


def test_run_plan_with_another_columns_map_is_refused_with_no_write(
    workdir: Path, simulator: Simulator, use_sim
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    _code_roster(workdir)
    assert main(["plan", "staff.csv", "--columns", "a.toml", "--out", "p.xlsx"]) == 0
    assert main(["run", "staff.csv", "--plan", "p.xlsx", "--columns", "b.toml"]) == 2
    assert _writes(simulator) == []
    assert main(["run", "staff.csv", "--plan", "p.xlsx"]) == 0  # the plan's own map
    assert simulator.users()["10001"].user_pw == "Initial-pw-1!"


def test_run_plan_refuses_rows_that_read_differently_from_the_plan(
    workdir: Path, simulator: Simulator, use_sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same file, same options, but the reader turns a planned row into another (here: a
    changed header alias table): the per-row hashes differ and the whole plan is refused."""
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2)
    assert main(["plan", "staff.csv", "--out", "p.xlsx"]) == 0
    import bulk_provision.plan.sources as sources

    real = sources.row_hashes

    def shifted(roster, actions):  # type: ignore[no-untyped-def]
        return {k: v + "x" for k, v in real(roster, actions).items()}

    monkeypatch.setattr(sources, "row_hashes", shifted)
    assert main(["run", "staff.csv", "--plan", "p.xlsx"]) == 2
    assert _writes(simulator) == []


# 2: undo --out never replaces the run's roster or its outputs -------------------------------
@pytest.mark.parametrize("out", ["staff.csv", "staff.results.xlsx", "staff.failed.csv"])
@pytest.mark.parametrize("yes", [[], ["--yes"]])
def test_undo_out_may_not_overwrite_the_runs_roster_or_its_outputs(
    workdir: Path, simulator: Simulator, use_sim, out: str, yes: list[str]
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2, extra=[["99999", "bad.demo.glance.net", "Pw-bad-1!",
                                                   "B", "Ad", "b@example.com", "NoRole", "", ""]])
    assert main(["run", "staff.csv"]) == 1
    before = (workdir / out).read_bytes()
    sent = len(_writes(simulator))
    code = main(["undo", "staff.csv.checkpoint.sqlite", "--max-suspend", "100%", "--out", out,
                 *yes])
    assert code == 2
    assert (workdir / out).read_bytes() == before
    assert len(_writes(simulator)) == sent


def test_undo_out_may_not_overwrite_a_results_workbook_named_by_run_out(
    workdir: Path, simulator: Simulator, use_sim, capsys
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2)
    assert main(["run", "staff.csv", "--out", "night.xlsx"]) == 0
    before = (workdir / "night.xlsx").read_bytes()
    capsys.readouterr()
    code = main(["undo", "staff.csv.checkpoint.sqlite", "--max-suspend", "100%",
                 "--out", "night.xlsx"])
    assert code == 2
    assert "the run's results workbook" in capsys.readouterr().err
    assert (workdir / "night.xlsx").read_bytes() == before


# 3: an export with outer spaces round-trips without a write ---------------------------------
@pytest.mark.parametrize("mode", ["upsert", "sync"])
def test_export_round_trip_of_a_key_with_spaces_sends_no_write(
    workdir: Path, simulator: Simulator, use_sim, mode: str
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    simulator.add_user(" 00042 ", "sp.demo.glance.net", user_first="Ann", user_last="Lee",
                       user_email="sp@example.com")
    simulator.add_user("00043", "ok.demo.glance.net", user_first="Bo", user_last="Lee",
                       user_email="ok@example.com")
    assert main(["export", "--out", "all.xlsx"]) == 0
    before = len(simulator.request_log)
    assert main(["run", "all.xlsx", "--mode", mode, "--max-suspend", "100%"]) == 0
    writes = [(r.operation, r.partner_user_id) for r in simulator.request_log[before:]
              if r.operation != "ShowUsers"]
    assert writes == []
    assert sorted(simulator.users()) == [" 00042 ", "00043"]


def test_an_update_of_a_key_glance_spells_with_spaces_addresses_glances_user(
    workdir: Path, simulator: Simulator, use_sim
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    simulator.add_user(" 00000 ", "user0.demo.glance.net", user_first="Old", user_last="Lee0",
                       user_email="u0@example.com", user_role="Agent")
    write_roster(workdir / "staff.csv", 1)
    assert main(["run", "staff.csv", "--mode", "upsert"]) == 0
    users = simulator.users()
    assert sorted(users) == [" 00000 "]
    assert users[" 00000 "].user_first != "Old"


def test_export_round_trip_of_names_with_outer_spaces_sends_no_write(
    workdir: Path, simulator: Simulator, use_sim
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    simulator.add_user("ad", "ad.demo.glance.net", user_first=" lead", user_last="trail ")
    assert main(["export", "--out", "all.xlsx"]) == 0
    before = len(simulator.request_log)
    assert main(["run", "all.xlsx", "--mode", "upsert"]) == 0
    assert [r.operation for r in simulator.request_log[before:]
            if r.operation != "ShowUsers"] == []


# 4: a create-mode plan reports an existing user `exists`, as create mode does --------------
def test_a_fresh_create_mode_plan_with_an_existing_user_is_carried_out(
    workdir: Path, simulator: Simulator, use_sim
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 3)
    simulator.add_user("00000", "user0.demo.glance.net", user_first="Old", user_last="Lee0",
                       user_email="u0@example.com", user_role="Agent")
    assert main(["plan", "staff.csv", "--out", "p.xlsx"]) == 0
    assert main(["run", "staff.csv", "--plan", "p.xlsx"]) == 0
    rows = {r["Employee ID"]: r for r in sheet_rows(workdir / "staff.results.xlsx")}
    assert rows["00000"]["Outcome"] == "exists"
    assert simulator.users()["00000"].user_first == "Old"
    assert sorted(simulator.users()) == ["00000", "00001", "00002"]


# 5: another undo request never resumes the finished undo and claims success ----------------
def test_undo_delete_created_after_an_undo_that_suspended_is_refused_clearly(
    workdir: Path, simulator: Simulator, use_sim, capsys
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 3)
    assert main(["run", "staff.csv"]) == 0
    assert main(["undo", "staff.csv.checkpoint.sqlite", "--yes", "--max-suspend", "100%"]) == 0
    capsys.readouterr()
    sent = len(_writes(simulator))
    code = main(["undo", "staff.csv.checkpoint.sqlite", "--yes", "--delete-created",
                 "--max-suspend", "100%"])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds an undo of this run made without --delete-created" in err
    assert len(_writes(simulator)) == sent
    # the same request again is the finished undo: nothing left, and that is true
    assert main(["undo", "staff.csv.checkpoint.sqlite", "--yes", "--max-suspend", "100%"]) == 0
    assert len(_writes(simulator)) == sent


# 6: a config file others can change may not route notifications ----------------------------
def test_a_config_file_others_can_change_may_not_route_notifications(
    workdir: Path, simulator: Simulator, use_sim, ca, receiver
) -> None:
    hook = receiver("ok")
    bundle = workdir / "cas.pem"
    bundle.write_bytes(simulator.ca_bundle.read_bytes() + ca.cert_pem.bytes())
    use_sim(simulator, GLANCE_CA_BUNDLE=str(bundle))
    config = workdir / "shared.toml"
    config.write_text(f'backoff_base = 0.01\nnotify = ["{hook.url}"]\n', encoding="utf-8")
    os.chmod(config, 0o666)
    write_roster(workdir / "staff.csv", 2)
    assert main(["run", "staff.csv", "--config", str(config)]) == 2
    assert hook.posts == []
    assert _writes(simulator) == []


# 7: the webhook gets no roster or Glance values --------------------------------------------
def test_a_refused_plan_posts_no_roster_or_glance_values_to_the_webhook(
    workdir: Path, simulator: Simulator, use_sim, ca, receiver, capsys
) -> None:
    hook = receiver("ok")
    bundle = workdir / "cas.pem"
    bundle.write_bytes(simulator.ca_bundle.read_bytes() + ca.cert_pem.bytes())
    use_sim(simulator, GLANCE_CA_BUNDLE=str(bundle))
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2)
    assert main(["run", "staff.csv"]) == 0
    (workdir / "staff.csv").write_text(
        (workdir / "staff.csv").read_text(encoding="utf-8")
        .replace("u1@example.com", "new.u1@example.com"), encoding="utf-8")
    assert main(["plan", "staff.csv", "--mode", "upsert", "--out", "p.xlsx"]) == 0
    papi = RawPapi(simulator)
    papi.ok("UpdateUser", PartnerUserID="00001", UserEmail="hr.changed@example.com")
    papi.close()
    capsys.readouterr()
    code = main(["run", "staff.csv", "--plan", "p.xlsx", "--fresh", "--json",
                 "--notify", hook.url])
    assert code == 2
    [(_, body)] = hook.posts
    assert b"example.com" not in body, json.loads(body)["details"]
    assert json.loads(body)["details"] == ["row 3 00001"]
    # the operator's own --json on stdout keeps the full differences
    assert "hr.changed@example.com" in json.loads(capsys.readouterr().out)["details"][0]


# 8: the webhook's answer is never read whole -------------------------------------------------
def test_a_webhook_answering_with_a_huge_body_is_not_read_into_memory() -> None:
    from bulk_provision.jobs.notify import post_json
    from tests.hostile import HostileServer, endless_body

    total = 64 * 1024 * 1024
    with HostileServer(endless_body(total, declare_length=True)) as server:
        post_json(f"{server.base_url}/hook", {"ending": "finished"},
                  ca_bundle=server.ca_bundle, timeout=10)
        read = server.bytes_sent
    assert read < 16 * 1024 * 1024, f"{read} bytes of the answer were read"


# 9: a plan is carried out only against the Glance it was made against ---------------------
def test_run_plan_refuses_a_plan_made_against_another_glance(
    workdir: Path, make_simulator, use_sim, capsys
) -> None:
    staging, production = make_simulator(), make_simulator()
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 3)
    use_sim(staging)
    assert main(["plan", "staff.csv", "--out", "p.xlsx"]) == 0
    use_sim(production)
    capsys.readouterr()
    assert main(["run", "staff.csv", "--plan", "p.xlsx"]) == 2
    assert "was made against" in capsys.readouterr().err
    assert _writes(production) == []
    use_sim(staging)
    assert main(["run", "staff.csv", "--plan", "p.xlsx"]) == 0
    assert len(staging.users()) == 3


# 10: Ctrl-C while notifying keeps the run's exit code and --json ---------------------------
def test_ctrl_c_while_waiting_for_a_notification_keeps_the_runs_exit_code_and_json(
    workdir: Path, simulator: Simulator, use_sim, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulk_provision.jobs import notify

    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2)

    def ctrl_c(self, document, attachment=None):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(notify.Notifier, "send", ctrl_c)
    code = main(["run", "staff.csv", "--json", "--notify", "https://127.0.0.1:9/hook"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert len(simulator.users()) == 2
    assert (code, document["exit_code"], document["counts"]["created"]) == (0, 0, 2)
    assert "the notification was abandoned" in captured.err


# 11: undo refuses a journal edited after the run ---------------------------------------------
def test_undo_refuses_a_journal_edited_to_delete_a_user_the_run_never_touched(
    workdir: Path, simulator: Simulator, use_sim, capsys
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    simulator.add_user("ceo", "ceo.demo.glance.net")
    write_roster(workdir / "staff.csv", 2)
    assert main(["run", "staff.csv"]) == 0
    ceo = simulator.users()["ceo"]
    fields = {"UserAddress": ceo.user_address, "UserFirst": ceo.user_first,
              "UserLast": ceo.user_last, "UserEmail": ceo.user_email, "UserRole": ceo.user_role}
    with sqlite3.connect(workdir / "staff.csv.checkpoint.sqlite") as db:
        db.execute("UPDATE rows SET key='ceo', fields=? WHERE key='00000'",
                   (json.dumps({k: v for k, v in fields.items() if v}),))
    db.close()
    sent = len(_writes(simulator))
    capsys.readouterr()
    code = main(["undo", "staff.csv.checkpoint.sqlite", "--yes", "--delete-created",
                 "--max-suspend", "100%"])
    assert code == 2
    assert "was edited after the run recorded its plan" in capsys.readouterr().err
    assert "ceo" in simulator.users()
    assert len(_writes(simulator)) == sent


# 12: no option abbreviations -----------------------------------------------------------------
@pytest.mark.parametrize("words", [["validate", "missing.csv", "--jso"],
                                   ["run", "staff.csv", "--max-s", "5"]])
def test_an_abbreviated_option_is_refused_not_guessed(
    workdir: Path, capsys, words: list[str]
) -> None:
    """`--jso` was taken as --json, but main() looks for the word itself: an error then printed
    no JSON. Abbreviations are not accepted: one clear usage error, exit 2."""
    with pytest.raises(SystemExit) as raised:
        main(words)
    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert "unrecognized arguments" in captured.err
    assert captured.out == ""


def test_json_with_an_error_still_gives_one_json_document(workdir: Path, capsys) -> None:
    assert main(["validate", "missing.csv", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["exit_code"] == 2


# 13: export warns about values that will not round-trip ---------------------------------------
def test_export_warns_about_an_email_glance_accepted_and_run_still_validates_it(
    workdir: Path, simulator: Simulator, use_sim, capsys
) -> None:
    """Glance accepts 'not-an-email'; validation stays: export says so up front, and the
    README tells to fix such users in the workbook."""
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    simulator.add_user("e1", "e1.demo.glance.net", user_email="not-an-email")
    simulator.add_user("e2", "e2.demo.glance.net", user_first=" lead", user_email="ok@example.com")
    assert main(["export", "--out", "all.xlsx"]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 exported users have a UserEmail that is not a valid address" in err
    assert "warning: 1 exported users have a value with outer spaces" in err
    assert main(["run", "all.xlsx", "--mode", "upsert"]) == 3


# 14: export --filter Suspended takes Glance's boolean spellings, refuses others ------------
@pytest.mark.parametrize("value", ["true", "1", "YES", "yes"])
def test_export_filter_suspended_accepts_glances_boolean_spellings(
    workdir: Path, simulator: Simulator, use_sim, value: str
) -> None:
    use_sim(simulator)
    simulator.add_user("s1", "s1.demo.glance.net", suspended=True)
    simulator.add_user("a1", "a1.demo.glance.net")
    assert main(["export", "--out", "s.xlsx", "--filter", f"Suspended={value}"]) == 0
    assert [r["PartnerUserID"] for r in sheet_rows(workdir / "s.xlsx", "Users")] == ["s1"]


@pytest.mark.parametrize("value", ["maybe", "typo", ""])
def test_export_filter_suspended_with_another_value_is_refused(
    workdir: Path, simulator: Simulator, use_sim, capsys, value: str
) -> None:
    use_sim(simulator)
    simulator.add_user("s1", "s1.demo.glance.net", suspended=True)
    assert main(["export", "--out", "s.xlsx", "--filter", f"Suspended={value}"]) == 2
    assert "Suspended is yes or no (also 1/0, true/false)" in capsys.readouterr().err
    assert not (workdir / "s.xlsx").exists()


# 15: a roster's own Problem column is kept in the failed-rows file ---------------------------
def test_failed_rows_file_keeps_the_rosters_own_problem_column(
    workdir: Path, simulator: Simulator, use_sim
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    with (workdir / "staff.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*XHEADER, "Problem"])
        w.writerow(["00001", "p1.demo.glance.net", "Pw-aaaa-1!", "A", "B", "p1@example.com",
                    "NoRole", "badge lost, see ticket 4711"])
    assert main(["run", "staff.csv"]) == 1
    with (workdir / "staff.failed.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [*XHEADER, "Problem", "Problem (bulk-provision)"]
    assert rows[1][len(XHEADER)] == "badge lost, see ticket 4711"
    assert "NoRole" in rows[1][-1]
    # the failed file run again refills the tool's column, never adds a second one
    (workdir / "again").mkdir()
    (workdir / "again" / "staff.failed.csv").write_bytes((workdir / "staff.failed.csv")
                                                         .read_bytes())
    assert main(["run", "again/staff.failed.csv"]) == 1
    with (workdir / "again" / "staff.failed.failed.csv").open(newline="", encoding="utf-8") as f:
        again = list(csv.reader(f))
    assert again[0] == rows[0]
    assert again[1][len(XHEADER)] == "badge lost, see ticket 4711"


# small: run --plan refuses the options the plan decides ---------------------------------------
@pytest.mark.parametrize("option", [["--audio-provider", "1"], ["--set-passwords"],
                                    ["--mode", "upsert"]])
def test_run_plan_refuses_options_the_plan_decides(
    workdir: Path, simulator: Simulator, use_sim, capsys, option: list[str]
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2)
    assert main(["plan", "staff.csv", "--out", "p.xlsx"]) == 0
    capsys.readouterr()
    assert main(["run", "staff.csv", "--plan", "p.xlsx", *option]) == 2
    assert f"leave out {option[0]}" in capsys.readouterr().err
    assert _writes(simulator) == []


# small: undo --json names the roster and the endpoint ----------------------------------------
@pytest.mark.parametrize("yes", [[], ["--yes"]])
def test_undo_json_names_the_runs_roster_and_the_endpoint(
    workdir: Path, simulator: Simulator, use_sim, capsys, yes: list[str]
) -> None:
    use_sim(simulator)
    tuning(workdir / "bulk-provision.toml")
    write_roster(workdir / "staff.csv", 2)
    assert main(["run", "staff.csv"]) == 0
    capsys.readouterr()
    assert main(["undo", "staff.csv.checkpoint.sqlite", "--max-suspend", "100%", "--json",
                 *yes]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["roster"] == "staff.csv"
    assert document["endpoint"] == simulator.base_url


def test_undo_of_a_folder_says_it_is_a_folder(
    workdir: Path, simulator: Simulator, use_sim, capsys
) -> None:
    use_sim(simulator)
    (workdir / "runs").mkdir()
    assert main(["undo", "runs"]) == 2
    assert "checkpoint runs is a folder; name the .sqlite file" in capsys.readouterr().err
