"""A recipe applied to an export: a roster of section 4, problems by the export's row, header."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bulk_provision.errors import ConfigError
from bulk_provision.recipe.file import Recipe, parse_recipe
from bulk_provision.roster.recipe import read_with_recipe
from bulk_provision.roster.validation import validate_roster

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data"
HEADER = ["Employee ID", "Preferred First Name", "Last Name", "Work Email", "Department",
          "Status", "Start Date"]
RECIPE = """
[columns]
PartnerUserID = "Employee ID"
UserFirst = "Preferred First Name"
UserLast = "Last Name"
UserEmail = "Work Email"

[compute]
UserAddress = "{UserFirst|ascii|lower}.{UserLast|slug}.acme.glance.net"

[lookup.UserRole]
from = "Department"
map = { "Sales" = "Agent", "Customer Care" = "Agent", "Team Leads" = "Supervisor" }
default = "-none-"

[status]
column = "Status"
leaver = ["Terminated", "Leaver"]
active = ["Active", "On Leave"]

[ignore]
columns = ["Start Date"]
"""


def export(tmp_path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def recipe(text: str = RECIPE, **replace: str) -> Recipe:
    for old, new in replace.items():
        text = text.replace(old.replace("_", " "), new)
    return parse_recipe(text.encode(), "acme.recipe.toml")


def person(key: str, first: str, last: str, dept: str = "Sales", status: str = "Active",
           ) -> list[str]:
    return [key, first, last, f"{key}@example.com", dept, status, "2024-01-01"]


def test_the_export_becomes_the_roster_of_section_4(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Zoë", "Müller-Lüdenscheidt"),
                             person("002", "Łukasz", "Wójcik", "Team Leads", "Terminated"),
                             person("003", "Ann", "Lee", "Finance", "on leave")])
    roster = read_with_recipe(path, sheet=None, recipe=recipe())
    frame = roster.frame
    assert list(frame["UserAddress"]) == ["zoe.muller.ludenscheidt.acme.glance.net",
                                          "lukasz.wojcik.acme.glance.net",
                                          "ann.lee.acme.glance.net"]
    assert list(frame["UserRole"]) == ["Agent", "Supervisor", "-none-"]
    assert list(frame["Action"]) == ["", "suspend", ""]
    assert list(frame["UserEmail"]) == ["001@example.com", "002@example.com", "003@example.com"]
    assert roster.recipe is not None and roster.recipe.leavers == {3}
    assert roster.recipe.unused == []
    # the export's own columns, in its order, stay what the failed-rows file writes back
    assert [roster.headers[c] for c in roster.file_columns] == HEADER
    assert roster.headers["UserAddress"] == "UserAddress (computed)"
    assert validate_roster(roster).ok


def test_the_sample_export_and_recipe_validate() -> None:
    from bulk_provision.recipe.file import load_recipe
    roster = read_with_recipe(SAMPLES / "hr_export.csv", sheet=None,
                              recipe=load_recipe(SAMPLES / "hr_export.recipe.toml"))
    assert validate_roster(roster).ok
    assert roster.recipe is not None and len(roster.recipe.leavers) == 2
    assert "jurgen.assmann.demo.glance.net" in set(roster.frame["UserAddress"])
    assert "soren.orsted.demo.glance.net" in set(roster.frame["UserAddress"])


def test_an_unused_header_is_named_once_and_ignore_silences_it(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee") + ["CC-1"]], [*HEADER, "Cost Centre"])
    roster = read_with_recipe(path, sheet=None, recipe=recipe())
    assert roster.recipe is not None
    assert roster.recipe.notes == ['"Cost Centre" is not used: map it or list it under [ignore]']
    quiet = read_with_recipe(path, sheet=None, recipe=recipe(
        Start_Date='Start Date", "cost centre'))
    assert quiet.recipe is not None and quiet.recipe.notes == []
    blank = export(tmp_path, [person("001", "Ann", "Lee") + ["CC-1"]], [*HEADER, ""])
    named = read_with_recipe(blank, sheet=None, recipe=recipe())
    assert named.recipe is not None  # a column without a header is named by its letter
    assert named.recipe.notes == ['"Column H" is not used: map it or list it under [ignore]']


def test_an_alias_of_a_mapped_field_is_just_another_column(tmp_path: Path) -> None:
    """"Email" would mean UserEmail; the recipe says UserEmail is "Work Email"."""
    path = export(tmp_path, [person("001", "Ann", "Lee") + ["old@example.com"]],
                  [*HEADER, "Email"])
    roster = read_with_recipe(path, sheet=None, recipe=recipe())
    assert roster.frame.at[2, "UserEmail"] == "001@example.com"
    assert roster.frame.at[2, "Email"] == "old@example.com"
    assert roster.recipe is not None and roster.recipe.unused == ["Email"]


def test_problems_name_the_exports_row_and_header_and_show_the_template(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee"), person("002", "", "", "Marketing"),
                             person("003", "Bo", "Ng", "Sales", "Retired")])
    roster = read_with_recipe(path, sheet=None, recipe=recipe(**{'default = "-none-"': ""}))
    problems = {(p.row, p.column, p.rule): p for p in validate_roster(roster).problems}
    lookup = problems[(3, "Department", "UserRole.lookup")]
    assert lookup.value == "Marketing"
    assert 'Department "Marketing" is not in the recipe\'s [lookup.UserRole] map' in \
        lookup.message
    status = problems[(4, "Status", "Status.value")]
    assert 'Status "Retired" is neither a leaver nor an active value' in status.message
    address = problems[(3, "UserAddress (computed)", "UserAddress.ends")]
    assert ("built by the recipe's template \"{UserFirst|ascii|lower}.{UserLast|slug}."
            "acme.glance.net\" from Preferred First Name '', Last Name ''") in address.message


def test_an_empty_computed_address_is_a_row_problem_not_a_crash(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee"), person("002", "李", "")])
    roster = read_with_recipe(path, sheet=None, recipe=recipe(
        **{'"{UserFirst|ascii|lower}.{UserLast|slug}.acme.glance.net"': '"{UserFirst|ascii}"'}))
    result = validate_roster(roster)
    assert result.invalid_rows == {3}
    (problem,) = result.problems
    assert problem.rule == "UserAddress.required"
    assert "Preferred First Name '李'" in problem.message


def test_two_rows_computing_one_address_get_the_advice_of_section_12(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee"), person("002", "Ann", "Lee")])
    result = validate_roster(read_with_recipe(path, sheet=None, recipe=recipe()))
    assert result.invalid_rows == {2, 3}
    for problem in result.problems:
        assert problem.rule == "UserAddress.unique"
        assert "add {PartnerUserID} to the template" in problem.message


def test_an_explicit_action_column_wins_over_the_status(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee", status="Leaver") + ["delete"],
                             person("002", "Bo", "Ng", status="Leaver") + [""]],
                  [*HEADER, "Action"])
    roster = read_with_recipe(path, sheet=None, recipe=recipe())
    assert list(roster.frame["Action"]) == ["delete", "suspend"]
    assert roster.recipe is not None and roster.recipe.leavers == {3}


@pytest.mark.parametrize(("change", "said"), [
    ({'"Work Email"': '"Business Email"'},
     'line 6: UserEmail = "Business Email", but export.csv has no column "Business Email" '
     '(its headers: "Employee ID"'),
    ({"{UserLast|slug}": "{Surname|slug}"},
     "line 9: [compute] UserAddress uses {Surname}: 'Surname' is neither a Glance field"),
    ({'from = "Department"': 'from = "Dept"'},
     'line 12: [lookup.UserRole] from = "Dept": \'Dept\' is'),
    ({'column = "Status"': 'column = "Employment Status"'}, '[status] column = "Employment'),
    ({"{UserLast|slug}": "{UserPW}"}, "the export has no column for UserPW"),
])
def test_a_recipe_that_does_not_fit_the_export_is_refused(
    tmp_path: Path, change: dict[str, str], said: str,
) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee")])
    with pytest.raises(ConfigError) as caught:
        read_with_recipe(path, sheet=None, recipe=recipe(**change))
    assert said in str(caught.value)


def test_a_password_never_goes_into_a_computed_field(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee") + ["Secret-123!"]],
                  [*HEADER, "Password"])
    with pytest.raises(ConfigError, match="a password column"):
        read_with_recipe(path, sheet=None, recipe=recipe(**{"{UserLast|slug}": "{Password}"}))


@pytest.mark.parametrize("change", [
    {'column = "Status"': 'column = "Password"'},
    {'from = "Department"': 'from = "Password"'},
])
def test_a_password_column_is_never_a_status_or_a_lookup(
    tmp_path: Path, change: dict[str, str],
) -> None:
    """Its values would be shown in clear in the problems ("is not in the map")."""
    path = export(tmp_path, [person("001", "Ann", "Lee") + ["Secret-123!"]],
                  [*HEADER, "Password"])
    with pytest.raises(ConfigError, match='"Password" is a password column') as caught:
        read_with_recipe(path, sheet=None, recipe=recipe(**change))
    assert "Secret-123!" not in str(caught.value)


@pytest.mark.parametrize("header", ["Status", "Department"])
def test_two_columns_with_the_header_a_recipe_reads_are_refused(
    tmp_path: Path, header: str,
) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee") + ["x"]], [*HEADER, header])
    with pytest.raises(ConfigError) as caught:
        read_with_recipe(path, sheet=None, recipe=recipe())
    assert f'export.csv has 2 columns headed "{header}": rename or delete all but one' in str(
        caught.value)


def test_a_columns_file_reads_as_before(tmp_path: Path) -> None:
    from bulk_provision.recipe.file import from_column_map
    path = export(tmp_path, [person("001", "Ann", "Lee")])
    roster = read_with_recipe(path, sheet=None, recipe=from_column_map(
        {"Preferred First Name": "UserFirst", "Work Email": "UserEmail"}, "map.toml"))
    assert roster.recipe is None
    assert {"PartnerUserID", "UserFirst", "UserLast", "UserEmail"} <= set(roster.frame.columns)


def test_a_password_column_mapped_to_another_field_is_refused(tmp_path: Path) -> None:
    path = export(tmp_path, [person("001", "Ann", "Lee") + ["Secr3t-Pass!"]],
                  [*HEADER, "Temp Password"])
    with pytest.raises(ConfigError) as caught:
        read_with_recipe(path, sheet=None, recipe=recipe(
            **{'UserEmail = "Work Email"': 'UserEmail = "Temp Password"'}))
    assert ('UserEmail = "Temp Password", but that column looks like a password, and a '
            'password only goes to UserPW') in str(caught.value)
    assert "Secr3t" not in str(caught.value)


def test_a_header_written_in_another_unicode_form_is_the_same_header(tmp_path: Path) -> None:
    import unicodedata
    decomposed = unicodedata.normalize("NFD", "Prénom")  # as a Mac export writes it
    header = [decomposed if h == "Preferred First Name" else h for h in HEADER]
    path = export(tmp_path, [person("001", "Ann", "Lee")], header)
    roster = read_with_recipe(path, sheet=None, recipe=recipe(
        **{'"Preferred First Name"': '"Prénom"'}))
    assert roster.frame["UserFirst"].tolist() == ["Ann"]
