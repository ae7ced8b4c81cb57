"""Two mistakes caught before Start: a misspelt role (beside the roles Glance lists) and an
Employee ID that lost its leading zeros (Excel stored it as a number)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from bulk_provision.roster.read import read_roster
from bulk_provision.roster.roles import role_typos, unlisted_roles
from bulk_provision.roster.validation import validate_roster


def roster(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "r.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["PartnerUserID", "UserAddress", "UserRole"])
        for i, (key, role) in enumerate(rows):
            w.writerow([key, f"u{i}.demo.glance.net", role])
    return path


def test_a_role_spelt_like_a_listed_one_is_a_typo_and_another_is_only_named() -> None:
    frame = pd.DataFrame({"UserRole": ["Agent", "Supervisr", "", "-none-", "supervisor",
                                       "Night Team", "Supervisr"]}, index=range(2, 9))
    typos = role_typos(frame, ["Agent", "Supervisor"])
    assert [(row, value) for row, value, _ in typos] == [(3, "Supervisr"), (8, "Supervisr")]
    assert 'did you mean "Supervisor"?' in typos[0][2]
    assert unlisted_roles(frame, ["Agent", "Supervisor"]) == ["Night Team"]
    assert role_typos(frame, []) == []  # nothing listed: nothing to compare with


def test_validation_with_the_listed_roles_makes_the_typo_a_problem(tmp_path: Path) -> None:
    path = roster(tmp_path, [("a1", "Agent"), ("a2", "Supervisr")])
    result = validate_roster(read_roster(path), listed_roles=["Agent", "Supervisor"])
    assert [(p.row, p.column, p.rule) for p in result.problems] == [
        (3, "UserRole", "UserRole.glance")]
    assert validate_roster(read_roster(path)).problems == []  # without Glance: unchecked
