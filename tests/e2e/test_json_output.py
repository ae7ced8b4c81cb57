"""``--json``: one JSON document on stdout for validate, run, plan, status, undo and export,
with the keys of the ``--notify`` document (summary_doc.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.e2e.test_sync import row, seed, write


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run the command; stdout must be exactly one JSON document."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: a bad command line
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["exit_code"] == code
    assert set(KEYS) <= set(doc), set(KEYS) - set(doc)
    return code, doc, captured.err


KEYS = ("tool", "version", "command", "roster", "mode", "endpoint", "ending", "exit_code",
        "exit_meaning", "message", "counts", "total", "files", "rows", "rows_left_out", "details")


def listed(doc: dict[str, Any], outcome: str) -> list[dict[str, Any]]:
    return [r for r in doc["rows"] if r["outcome"] == outcome]


def test_validate_json_lists_the_problems_with_passwords_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    good = write(tmp_path / "good.csv", [row("001")])
    code, doc, _ = as_json(capsys, "validate", str(good), "--json")
    assert code == 0 and doc["ending"] == "finished"
    assert doc["counts"] == {"rows": 1, "valid": 1, "invalid": 0} and doc["problems"] == []
    bad = write(tmp_path / "bad.csv", [row("001", pw="short"), row("001")])
    code, doc, err = as_json(capsys, "validate", str(bad), "--json")
    assert code == 3 and doc["ending"] == "invalid" and doc["message"] == ""
    assert doc["counts"]["invalid"] == 2
    rules = {(p["row"], p["column"]) for p in doc["problems"]}
    assert (2, "UserPW") in rules
    assert "short" not in json.dumps(doc)  # the password is masked
    assert "Rows: 2" in err  # the human summary went to stderr


def test_validate_json_carries_the_cells_stored_as_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["PartnerUserID", "UserAddress", "UserFirst"])
    sheet.append([417, "u417.demo.glance.net", "Ann"])  # an ID Excel stored as a number
    book.save(tmp_path / "r.xlsx")
    code, doc, _ = as_json(capsys, "validate", str(tmp_path / "r.xlsx"), "--json")
    assert code == 0
    assert [(w["row"], w["column"]) for w in doc["warnings"]] == [(2, "PartnerUserID")]


def test_run_json_counts_failed_rows_and_files(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001"), row("002", role="Nobody")])
    code, doc, _ = as_json(capsys, "run", str(roster), "--json", "--rate", "0",
                           "--no-progress")
    assert code == 1 and doc["command"] == "run" and doc["ending"] == "finished with failures"
    assert doc["counts"]["created"] == 1 and doc["counts"]["failed"] == 1
    assert doc["files"]["results"] == str(tmp_path / "r.results.xlsx")
    assert [(f["row"], f["key"], f["outcome"]) for f in doc["rows"]] == [(3, "002", "failed")]
    assert doc["rows"][0]["message"].startswith("NO_ROLE")
    assert doc["message"] == "" and doc["total"] == 2


def test_run_and_status_json_when_stopped_and_with_a_row_in_doubt(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001"), row("002")])
    sim.set_faults(fail_rate=1.0)
    code, doc, err = as_json(capsys, "run", str(roster), "--json", "--rate", "0",
                             "--no-progress", "--max-retries", "0")
    assert code == 4 and doc["ending"] == "stopped"
    assert doc["counts"]["not attempted"] == 2 and doc["rows"] == []
    assert "re-run" in err
    with sqlite3.connect(tmp_path / "r.csv.checkpoint.sqlite") as db:  # as if killed mid-send
        db.execute("UPDATE rows SET state='sending', attempts=1 WHERE key='002'")
    code, doc, _ = as_json(capsys, "status", str(tmp_path / "r.csv.checkpoint.sqlite"),
                           "--json")
    assert code == 0 and doc["counts"]["unfinished"] == 1
    assert [(u["row"], u["key"], u["outcome"]) for u in doc["rows"]] == [
        (3, "002", "unfinished")]
    assert "outcome unknown" in doc["rows"][0]["message"]


def test_errors_that_end_a_command_early_still_give_the_document(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc, err = as_json(capsys, "run", str(tmp_path / "missing.csv"), "--json")
    assert code == 2 and doc["ending"] == "usage"
    assert "missing.csv" in doc["message"] and "bulk-provision: error:" in err
    code, doc, _ = as_json(capsys, "run", "x.csv", "--json", "--workers")
    assert code == 2 and "expected one argument" in doc["message"]
    code, doc, _ = as_json(capsys, "status", str(tmp_path / "none.sqlite"), "--json")
    assert code == 2 and "does not exist" in doc["message"]
    # a refused plan lists its reasons in `details`
    seed(sim, 2)
    roster = write(tmp_path / "r.csv", [row("000", "Zed"), row("001", "Zoe")])
    assert main(["plan", str(roster), "--mode", "upsert", "--out", "p.xlsx"]) == 0
    sim.state.update("000", {"user_first": "Hand"})
    sim.state.update("001", {"user_first": "Hand"})
    code, doc, _ = as_json(capsys, "run", str(roster), "--plan", "p.xlsx", "--json",
                           "--no-progress")
    assert code == 2 and "no longer matches Glance (2 differences)" in doc["message"]
    assert len(doc["details"]) == 2 and doc["details"][0].startswith("row 2 000:")


def test_plan_json_counts_actions_and_shows_the_refusal(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 10)
    roster = write(tmp_path / "r.csv", [row(f"{i:03d}") for i in range(8)] + [row("050")])
    code, doc, _ = as_json(capsys, "plan", str(roster), "--mode", "upsert", "--json")
    assert code == 0 and doc["refusal"] is None
    assert doc["counts"]["create"] == 1 and doc["counts"]["no change"] == 8
    assert doc["files"]["plan"] == str(tmp_path / "r.plan.xlsx")
    code, doc, err = as_json(capsys, "plan", str(roster), "--mode", "sync", "--json")
    assert code == 2 and doc["counts"]["suspend"] == 2
    assert "sync would suspend 2 of 10 active users" in doc["refusal"]
    assert "sync would suspend" in err


def test_status_and_undo_json(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write(tmp_path / "r.csv", [row("001"), row("002", role="Nobody")])
    assert main(["run", str(roster), "--rate", "0", "--no-progress"]) == 1
    checkpoint = str(tmp_path / "r.csv.checkpoint.sqlite")
    code, doc, _ = as_json(capsys, "status", checkpoint, "--json")
    assert code == 0 and doc["counts"]["created"] == 1 and doc["counts"]["failed"] == 1
    assert doc["checkpoint"]["mode"] == "create" and doc["checkpoint"]["last_exit_code"] == "1"
    assert [f["key"] for f in listed(doc, "failed")] == ["002"]
    code, doc, _ = as_json(capsys, "undo", checkpoint, "--json", "--max-suspend", "1")
    assert code == 0 and doc["carried_out"] is False and doc["counts"] == {"suspend": 1}
    assert doc["files"]["plan"].endswith("r.csv.checkpoint.undo-plan.xlsx")
    code, doc, _ = as_json(capsys, "undo", checkpoint, "--json", "--yes", "--max-suspend", "1",
                           "--no-progress")
    assert code == 0 and doc["carried_out"] is True and doc["counts"]["suspended"] == 1
    # A bad checkpoint: the error document, same exit code.
    code, doc, _ = as_json(capsys, "undo", str(roster), "--json")
    assert code == 2 and "not a readable bulk-provision checkpoint" in doc["message"]


def test_export_json(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sim, 3)
    sim.add_user("", "nokey.demo.glance.net")
    code, doc, err = as_json(capsys, "export", "--out", "all.xlsx", "--json")
    assert code == 0 and doc["command"] == "export" and doc["ending"] == "finished"
    assert doc["counts"] == {"seen": 4, "exported": 3, "without_partner_user_id": 1}
    assert doc["files"] == {"export": "all.xlsx"}
    assert "3 of 4 users exported to all.xlsx" in err
    code, doc, _ = as_json(capsys, "export", "--out", "all.csv", "--json")
    assert code == 2 and "name it .xlsx" in doc["message"]
