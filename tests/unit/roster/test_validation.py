"""validate_roster: duplicates, roles, missing columns, custom schemas, password masking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_provision.errors import ConfigError, Hint, RosterError
from bulk_provision.roster.validation import Problem, validate_roster
from tests.unit.schemas.test_schema_rules import GOOD, roster_of


def test_every_row_sharing_a_partner_user_id_is_invalid() -> None:
    rows = [
        GOOD | {"PartnerUserID": "00123", "UserAddress": f"u{i}.glance.net"} for i in range(3)
    ]
    rows.insert(1, GOOD | {"PartnerUserID": "123", "UserAddress": "other.glance.net"})
    result = validate_roster(roster_of(rows))
    assert result.invalid_rows == {2, 4, 5}
    messages = {p.row: p.message for p in result.problems}
    assert messages == {
        2: "PartnerUserID 00123 also appears in rows 4, 5",
        4: "PartnerUserID 00123 also appears in rows 2, 5",
        5: "PartnerUserID 00123 also appears in rows 2, 4",
    }
    assert {p.rule for p in result.problems} == {"PartnerUserID.unique"}


def test_addresses_clash_ignoring_case() -> None:
    rows = [
        GOOD | {"PartnerUserID": "1", "UserAddress": "Jane.Doe.glance.net"},
        GOOD | {"PartnerUserID": "2", "UserAddress": "jane.doe.GLANCE.net"},
        GOOD | {"PartnerUserID": "3", "UserAddress": "john.doe.glance.net"},
    ]
    result = validate_roster(roster_of(rows))
    assert [(p.row, p.rule, p.message) for p in result.problems] == [
        (2, "UserAddress.unique", "UserAddress Jane.Doe.glance.net also appears in row 3"),
        (3, "UserAddress.unique", "UserAddress jane.doe.GLANCE.net also appears in row 2"),
    ]


def test_empty_ids_are_required_errors_not_duplicates() -> None:
    rows = [GOOD | {"PartnerUserID": "", "UserAddress": f"u{i}.glance.net"} for i in range(2)]
    result = validate_roster(roster_of(rows))
    assert [p.rule for p in result.problems] == ["PartnerUserID.required"] * 2


def test_any_role_is_accepted_without_a_configured_list() -> None:
    assert validate_roster(roster_of([GOOD | {"UserRole": "Anything At All"}])).ok


@pytest.mark.parametrize("role", ["Agent", "supervisor", "-none-", "-NONE-", ""])
def test_configured_roles_accept_known_roles_ignoring_case(role: str) -> None:
    result = validate_roster(roster_of([GOOD | {"UserRole": role}]), roles=["Agent", "Supervisor"])
    assert result.ok


def test_configured_roles_reject_an_unknown_role() -> None:
    roster = roster_of([GOOD | {"UserRole": "Boss"}])
    result = validate_roster(roster, roles=["Agent", "Supervisor"])
    assert result.problems == [
        Problem(
            2, "UserRole", "Boss", "UserRole.known",
            "UserRole 'Boss' is not a known role (known: Agent, Supervisor, -none-)",
        )
    ]


def test_problem_names_the_column_as_the_file_does() -> None:
    roster = roster_of([GOOD | {"UserPW": "abc"}], headers={"UserPW": "Pass word"})
    (problem,) = validate_roster(roster).problems
    assert (problem.column, problem.value) == ("Pass word", "***")


def test_password_never_appears_in_a_problem() -> None:
    secrets = ["pw1", "p" * 60, "has space", "=cmd|x"]
    rows = [
        GOOD | {"PartnerUserID": str(i), "UserAddress": f"u{i}.glance.net", "UserPW": pw}
        for i, pw in enumerate(secrets)
    ]
    problems = validate_roster(roster_of(rows)).problems
    assert len(problems) == 3  # "has space" is 9 characters: a valid password
    for problem in problems:
        assert problem.value == "***"
        assert all(pw not in f"{problem.message}{problem.value}" for pw in secrets)


def test_missing_required_column_suggests_the_closest_header() -> None:
    roster = roster_of([{"Employe ID": "1", "UserAddress": "a.glance.net", "Notes": ""}])
    with pytest.raises(RosterError) as caught:
        validate_roster(roster)
    assert str(caught.value) == (
        'staff.csv has no PartnerUserID column (did you mean "Employe ID" for PartnerUserID? '
        "Headers found: Employe ID, UserAddress, Notes)"
    )
    assert caught.value.hint is Hint.MAP_HEADER


def test_all_missing_required_columns_are_named() -> None:
    roster = roster_of([{"Name": "Jane"}])
    with pytest.raises(RosterError, match=r"no PartnerUserID or UserAddress column \(Headers"):
        validate_roster(roster)


def test_rows_are_spreadsheet_row_numbers_from_the_index() -> None:
    roster = roster_of([GOOD, GOOD | {"PartnerUserID": "2", "UserAddress": "b.glance.net"}])
    roster.frame.index = [2, 7]
    roster.frame.loc[7, "UserEmail"] = "nope"
    assert [p.row for p in validate_roster(roster).problems] == [7]


CUSTOM_SCHEMA = '''
from schemas import checks
from schemas.roster import build_schema as standard

import pandera.pandas as pa


def build_schema(roles):
    schema = standard(roles)
    extra = pa.Column(checks=[checks.max_length("Badge", 3).check(),
                              pa.Check(lambda s: s != "X", name="badge_not_x")], required=False)
    return schema.add_columns({"Badge": extra})
'''


def test_custom_schema_file_adds_rules(tmp_path: Path) -> None:
    path = tmp_path / "my_rules.py"
    path.write_text(CUSTOM_SCHEMA, encoding="utf-8")
    roster = roster_of([GOOD | {"Badge": "1234"}, GOOD | {"PartnerUserID": "9", "Badge": "X",
                                                         "UserAddress": "b.glance.net"}])
    result = validate_roster(roster, schema=path)
    assert [(p.row, p.rule, p.message) for p in result.problems] == [
        (2, "Badge.length", "Badge must be at most 3 characters (has 4)"),
        (3, "badge_not_x", "Badge breaks the rule badge_not_x (found 'X')"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "expected an existing Python file (.py)"),
        ("x = 1\n", "does not define build_schema(roles)"),
        ("def build_schema(roles):\n    return 42\n", "build_schema must return a DataFrameSchema"),
        ("def build_schema(roles) oops\n", "SyntaxError"),
        ("def build_schema(roles):\n    return roles.upper()\n",
         "AttributeError: 'NoneType' object has no attribute 'upper'"),
    ],
)
def test_bad_schema_file_is_a_config_error(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "rules.py"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_roster(roster_of([GOOD]), schema=path)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80).map(lambda t: t.strip() + "#"))  # "#" is in no message
def test_no_password_ever_leaks_into_a_problem(password: str) -> None:
    problems = validate_roster(roster_of([GOOD | {"UserPW": password}])).problems
    expected = ([] if 8 <= len(password) <= 49 else ["UserPW.length"]) + (
        ["UserPW.control"] if re.search("[\x00-\x1f\x7f-\x9f]", password) else [])
    assert sorted(p.rule for p in problems) == sorted(expected)
    for problem in problems:
        assert problem.value == "***" and password not in problem.message
        assert "\\x" not in problem.message  # not even which control characters it holds


def test_an_overlong_duplicate_is_a_length_problem_never_compared_and_quoted_short() -> None:
    huge = "\ufdfa" * 200_000  # NFKC makes each of these 18 characters
    roster = roster_of([GOOD | {"PartnerUserID": huge},
                        GOOD | {"PartnerUserID": huge, "UserAddress": "b.glance.net"}])
    result = validate_roster(roster)
    rules = {(p.row, p.rule) for p in result.problems}
    assert rules == {(2, "PartnerUserID.length"), (3, "PartnerUserID.length")}
    for problem in result.problems:
        assert len(problem.message) < 400 and len(problem.value) < 400
        assert "200,000 characters" in problem.value
