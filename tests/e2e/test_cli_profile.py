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


def two_groups(tmp_path: Path, staging: Simulator, production: Simulator,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file with a staging and a production profile, each its own simulator, and no
    GLANCE_* in the environment (it would win over both)."""
    for key in ("GLANCE_BASE_URL", "GLANCE_CA_BUNDLE", "GLANCE_PARTNER_LOGIN", "GLANCE_PARTNER_PW",
                "GLANCE_API_KEY", "GLANCE_PARTNER_ID", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    tables = []
    for name, sim in (("staging", staging), ("production", production)):
        tables.append(f'[profile.{name}]\nbase_url = "{sim.base_url}"\n'
                      f'ca_bundle = "{sim.ca_bundle}"\n'
                      f'partner_login = "{sim.config.partner_login}"\n'
                      f'partner_pw = "{sim.config.partner_pw}"\n')
    config = tmp_path / "bulk-provision.toml"
    config.write_text("rate = 0\nmax_retries = 0\ntimeout = 2\n" + "\n".join(tables),
                      encoding="utf-8")
    config.chmod(0o600)
    monkeypatch.chdir(tmp_path)
    return config


def test_staging_and_production_side_by_side_never_mix(
    make_simulator: Callable[..., Simulator], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from bulk_provision.cli import main

    staging, production = make_simulator(), make_simulator()
    two_groups(tmp_path, staging, production, monkeypatch)
    roster = write_roster(tmp_path / "staff.csv", 3)
    # a plan approved against staging is refused whole on production
    assert main(["plan", str(roster), "--profile", "staging", "--out", "plan.xlsx"]) == 0
    capsys.readouterr()
    assert run_cli(str(roster), "--plan", "plan.xlsx", "--profile", "production") == 2
    refused = capsys.readouterr().err
    assert staging.base_url in refused and production.base_url in refused, refused
    assert not [r for r in production.request_log if r.operation == "NewUser"]
    # a staging run left unfinished is not resumed on production
    staging.config.fail_rate = 1.0
    assert run_cli(str(roster), "--profile", "staging") == 4
    staging.config.fail_rate = 0.0
    capsys.readouterr()
    assert run_cli(str(roster), "--profile", "production") == 2
    said = capsys.readouterr().err
    assert f"holds a run against {staging.base_url}" in said
    assert not [r for r in production.request_log if r.operation == "NewUser"]
    # where it belongs, it finishes: each person created once, in staging only
    assert run_cli(str(roster), "--profile", "staging") == 0
    assert sorted(staging.created_counts().values()) == [1, 1, 1]
    assert production.created_counts() == {}
