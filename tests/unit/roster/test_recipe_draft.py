"""The draft recipe: what it decides, what it says it could not, and that its text reads back."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import ConfigError
from bulk_provision.jobs.recipe import draft_job
from bulk_provision.recipe.file import parse_recipe
from bulk_provision.roster.recipe import read_with_recipe
from bulk_provision.roster.validation import validate_roster

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data"


def export(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_the_sample_exports_draft_decides_what_it_can_and_says_the_rest() -> None:
    _, draft, text = draft_job(SAMPLES / "hr_export.csv")
    assert draft.columns == {"PartnerUserID": "Employee ID", "UserLast": "Last Name",
                             "UserFirst": "Preferred First Name", "UserEmail": "Work Email"}
    assert draft.status_column == "Status"
    assert draft.leaver == ["Leaver", "Terminated"] and draft.active == ["Active", "On Leave"]
    assert draft.role_column == "Department"
    assert list(draft.role_map) == ["Customer Care", "Finance", "Sales", "Team Leads"]
    assert draft.ignore == ["Start Date", "Cost Centre"]
    assert any("{your-company}" in line for line in draft.undecided)
    # as written, the draft refuses to run: only a person knows the company's domain
    with pytest.raises(ConfigError, match="still says {your-company}"):
        parse_recipe(text.encode(), "draft")
    decided = text.replace("{your-company}", "demo").replace('# "Sales" = ""', '"Sales" = "Agent"')
    recipe = parse_recipe(decided.encode(), "draft")
    roster = read_with_recipe(SAMPLES / "hr_export.csv", sheet=None, recipe=recipe)
    assert validate_roster(roster).ok
    assert roster.recipe is not None and roster.recipe.unused == []
    assert set(roster.frame["UserRole"]) == {"Agent", "-none-"}
    assert roster.frame.at[2, "UserAddress"] == "jose.nunez.demo.glance.net"


def test_two_headers_that_could_fill_one_field_are_left_to_the_admin(tmp_path: Path) -> None:
    path = export(tmp_path, ["Staff ID", "Work Email", "Personal Email", "Employment Status"],
                  [["1", "a@x.com", "a@y.com", "Active"], ["2", "b@x.com", "", "Retired?"]])
    _, draft, text = draft_job(path)
    assert "UserEmail" not in draft.columns
    assert 'UserEmail could be "Work Email" or "Personal Email"' in text
    assert "No column looks like the Employee ID" in text
    assert draft.status_column == "Employment Status" and draft.unsorted == ["Retired?"]
    assert '"Retired?"' in text


def test_an_exports_values_cannot_write_lines_into_the_draft(tmp_path: Path) -> None:
    """A status value with a line break is listed, escaped, never read back as TOML."""
    path = export(tmp_path, ["Employee ID", "First Name", "Last Name", "Status"],
                  [["1", "A", "B", 'x\n[compute]\nUserAddress = "{PartnerUserID}.evil.net"']])
    _, _, text = draft_job(path)
    assert "evil.net" in text
    assert not any(line.startswith("UserAddress = \"{PartnerUserID}") for line in
                   text.splitlines())
    document = tomllib.loads(text)
    assert document["compute"] == {
        "UserAddress": "{UserFirst|ascii|lower}.{UserLast|slug}.{your-company}.glance.net"}
    assert document["status"]["leaver"] == [] and document["status"]["active"] == []


def test_the_command_writes_a_new_file_and_never_replaces_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "acme.recipe.toml"
    assert main(["recipe", str(SAMPLES / "hr_export.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Draft recipe written: {out}" in printed
    assert "Not decided (edit the recipe):" in printed and "{your-company}" in printed
    assert out.read_text(encoding="utf-8").startswith("# bulk-provision recipe for hr_export.csv")
    assert main(["recipe", str(SAMPLES / "hr_export.csv"), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["recipe", str(SAMPLES / "hr_export.csv"), "--out",
                 str(SAMPLES / "hr_export.csv")]) == 2
    assert "is the export itself" in capsys.readouterr().err


def test_without_out_the_draft_is_printed_and_the_notes_go_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["recipe", str(SAMPLES / "hr_export.csv")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# bulk-provision recipe for hr_export.csv\n")
    assert "[status]" in captured.out and "Not decided" in captured.err


def test_a_password_column_is_never_guessed_or_ignored_and_the_problem_says_what_to_write(
    tmp_path: Path,
) -> None:
    path = export(tmp_path, ["Employee ID", "First Name", "Last Name", "Temp Password", ""],
                  [["A1", "Ann", "Lee", "Secr3t-Pass!", "x"]])
    _, draft, text = draft_job(path)
    assert draft.passwords == ["Temp Password"] and "Temp Password" not in draft.ignore
    assert '# UserPW = "Temp Password"' in text
    assert any('"Temp Password" looks like a password' in line for line in draft.undecided)
    assert draft.ignore == ["Column E"]  # a column without a header, by its letter
    written = text.replace("{your-company}", "acme")
    recipe = parse_recipe(written.encode(), "draft.toml")
    roster = read_with_recipe(path, sheet=None, recipe=recipe)
    problems = validate_roster(roster).problems
    assert [p.rule for p in problems] == ["Temp Password.password"]
    assert problems[0].message.startswith('the column "Temp Password" looks like a password: '
                                          'to send it as the password, write UserPW = "Temp '
                                          "Password\" under the recipe's [columns]")
    assert "--columns" not in problems[0].message and "Secr3t" not in problems[0].message
    ignored = parse_recipe(written.replace('columns = ["Column E"]',
                                           'columns = ["Column E", "Temp Password"]').encode(),
                           "draft.toml")
    assert validate_roster(read_with_recipe(path, sheet=None, recipe=ignored)).problems == []
    sent = parse_recipe(written.replace('# UserPW = "Temp Password"', 'UserPW = "Temp Password"')
                        .encode(), "draft.toml")
    assert validate_roster(read_with_recipe(path, sheet=None, recipe=sent)).problems == []
