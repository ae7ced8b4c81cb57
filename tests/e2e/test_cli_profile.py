"""``run --profile NAME`` against the simulator: --json, the results workbook's Summary and the
journal say which profile and which partner group the run used."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.simulator import Simulator
from tests.e2e.test_run import run_cli, write_roster


def test_the_profile_and_the_partner_group_are_recorded_everywhere(
    simulator: Simulator, use_sim: Callable[..., None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bulk-provision.toml"
    config.write_text("rate = 0\n[profile.staging]\nworkers = 2\n", encoding="utf-8")
    config.chmod(0o600)
    roster = write_roster(tmp_path / "staff.csv", 2)
    assert run_cli(str(roster), "--profile", "staging", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["profile"] == "staging"
    assert document["partner_login"] == simulator.config.partner_login
    book = openpyxl.load_workbook(tmp_path / "staff.results.xlsx", read_only=True)
    summary = {str(a): str(b) for a, b, *_ in book["Summary"].iter_rows(values_only=True)}
    book.close()
    assert summary["Profile"] == "staging"
    assert summary["Partner login"] == simulator.config.partner_login
    with sqlite3.connect(tmp_path / "staff.csv.checkpoint.sqlite") as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
    assert meta["profile"] == "staging"
    assert run_cli(str(roster), "--profile", "production") == 2
    assert "has no profile 'production' (known: staging)" in capsys.readouterr().err
