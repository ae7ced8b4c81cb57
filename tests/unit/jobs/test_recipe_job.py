"""Runs of an HR export through a recipe, against the in-memory fake: leavers, returners, the
sync guard, and the recipe pinned by the journal."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bulk_provision.errors import CheckpointError, UsageError
from bulk_provision.glance.models import GlanceUser
from bulk_provision.jobs.run import run_job
from bulk_provision.recipe.file import Recipe, parse_recipe
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.spec import JobSpec
from tests.fake_glance import UNAVAILABLE, Error, FakeGlance
from tests.workbooks import sheet_rows

FAST = EngineOptions(workers=2, rate=0, max_retries=2, backoff_base=0.001, backoff_max=0.002,
                     max_consecutive_failures=100, pause_seconds=0.001)
HEADER = ["Employee ID", "First Name", "Last Name", "Status", "Notes"]
RECIPE = b"""
[columns]
PartnerUserID = "Employee ID"
[compute]
UserAddress = "{UserFirst|lower}.{UserLast|lower}.acme.glance.net"
[status]
column = "Status"
leaver = ["Terminated"]
active = ["Active"]
"""


def export(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows([key, first, "Lee", status, f"note {key}"] for key, first, status in rows)
    return path


def spec(path: Path, recipe: Recipe | None = None, **overrides: object) -> JobSpec:
    base = JobSpec(roster_path=path, engine=FAST, recipe=recipe or parse_recipe(RECIPE, "acme"))
    for name, value in overrides.items():
        setattr(base, name, value)
    return base


def user(key: str, first: str = "Ann", *, suspended: bool = False) -> GlanceUser:
    return GlanceUser(key, f"{first.lower()}.lee.acme.glance.net", first, "Lee",
                      suspended=suspended)


def results(path: Path) -> list[dict[str, object]]:
    return sheet_rows(path.with_name("export.results.xlsx"))


def by_key(path: Path) -> dict[str, tuple[object, object]]:
    return {str(r["Employee ID"]): (r["Outcome"], r["Message"]) for r in results(path)}


def test_create_suspends_known_leavers_and_skips_unknown_ones_never_creating_them(
    tmp_path: Path,
) -> None:
    path = export(tmp_path, [("1", "Ann", "Active"), ("2", "Bo", "Terminated"),
                             ("3", "Cy", "Terminated")])
    fake = FakeGlance({"2": user("2", "Bo")})
    result = run_job(spec(path), lambda: fake)
    assert result.exit_code == 0
    assert fake.created == {"1": 1}
    assert fake.users["2"].suspended
    assert by_key(path) == {
        "1": ("created", None), "2": ("suspended", None),
        "3": ("skipped", "left; not in Glance: nothing to suspend, not created")}
    rows = results(path)
    # the export's own columns, in its order, then what the recipe built, then the outcome
    assert list(rows[0])[:5] == HEADER
    assert rows[0]["UserAddress (computed)"] == "ann.lee.acme.glance.net"


def test_upsert_skips_unknown_leavers_without_a_call_and_reinstates_returners(
    tmp_path: Path,
) -> None:
    path = export(tmp_path, [("1", "Ann", "Active"), ("2", "Bo", "Terminated"),
                             ("3", "Cy", "Terminated"), ("4", "Di", "Active")])
    fake = FakeGlance({"1": user("1"), "2": user("2", "Bo"),
                       "4": user("4", "Di", suspended=True)})
    result = run_job(spec(path, mode="upsert"), lambda: fake)
    assert result.exit_code == 0
    assert by_key(path)["1"][0] == "unchanged"
    assert by_key(path)["2"][0] == "suspended"
    assert by_key(path)["3"] == ("skipped", "left; not in Glance: nothing to suspend, not created")
    assert by_key(path)["4"][0] == "reinstated"
    assert not fake.users["4"].suspended
    assert not fake.ops("NewUser") and not fake.ops("UpdateUser", "3")


def test_upsert_without_a_status_column_leaves_suspended_users_suspended(tmp_path: Path) -> None:
    path = export(tmp_path, [("4", "Di", "Active")])
    fake = FakeGlance({"4": user("4", "Di", suspended=True)})
    plain = parse_recipe(RECIPE.split(b"[status]")[0] + b"[ignore]\ncolumns=['Status']\n", "p")
    run_job(spec(path, plain, mode="upsert"), lambda: fake)
    assert fake.users["4"].suspended


def test_in_sync_leavers_count_against_max_suspend(tmp_path: Path) -> None:
    rows = [(str(i), f"P{i}", "Terminated" if i < 3 else "Active") for i in range(10)]
    path = export(tmp_path, rows)
    fake = FakeGlance({str(i): user(str(i), f"P{i}") for i in range(10)})
    with pytest.raises(UsageError, match="sync would suspend 3 of 10 active users"):
        run_job(spec(path, mode="sync", max_suspend="2"), lambda: fake)
    assert not [c for c in fake.calls if c.operation != "ShowUsers"]
    result = run_job(spec(path, mode="sync", max_suspend="3", fresh=True), lambda: fake)
    assert result.exit_code == 0
    assert sorted(k for k, u in fake.users.items() if u.suspended) == ["0", "1", "2"]


def test_resuming_with_another_recipe_is_refused(tmp_path: Path) -> None:
    path = export(tmp_path, [("1", "Ann", "Active"), ("2", "Bo", "Active")])
    fake = FakeGlance()
    fake.script("NewUser", "2", *[UNAVAILABLE] * 3)
    first = run_job(spec(path), lambda: fake)
    assert first.exit_code == 4
    other = parse_recipe(RECIPE.replace(b"acme.glance.net", b"other.glance.net"), "other")
    with pytest.raises(CheckpointError, match="made with the recipe with SHA-256"):
        run_job(spec(path, other), lambda: fake)
    resumed = run_job(spec(path), lambda: fake)  # the same recipe (read again) resumes
    assert resumed.exit_code == 0 and fake.created == {"1": 1, "2": 1}


def test_the_failed_rows_file_keeps_the_exports_columns_so_it_runs_again(tmp_path: Path) -> None:
    path = export(tmp_path, [("1", "Ann", "Active"), ("2", "Bo", "Active")])
    fake = FakeGlance()
    fake.script("NewUser", "2", Error("NO_ROLE", "no such role"))
    result = run_job(spec(path), lambda: fake)
    assert result.exit_code == 1 and result.failed_rows_path is not None
    with result.failed_rows_path.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == [*HEADER, "Problem (bulk-provision)"]
    assert lines[1][:5] == ["2", "Bo", "Lee", "Active", "note 2"]
    again = run_job(spec(result.failed_rows_path, checkpoint=tmp_path / "again.sqlite",
                         out=tmp_path / "again.xlsx"), lambda: fake)
    assert again.exit_code == 0 and fake.created == {"1": 1, "2": 1}
    assert again.roster is not None and again.roster.recipe is not None
    assert again.roster.recipe.unused == ["Notes"]  # the tool's Problem column is not the export's
