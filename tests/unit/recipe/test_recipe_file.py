"""Reading and checking a recipe: every mistake one clear ConfigError naming the recipe and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.errors import ConfigError
from bulk_provision.recipe.file import MAX_BYTES, load_recipe, parse_recipe

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "hr_export.recipe.toml"


def check(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_recipe(text.encode(), "acme.recipe.toml")
    return caught.value


def test_the_sample_recipe_reads_whole() -> None:
    recipe = load_recipe(SAMPLE)
    assert recipe.columns == {"PartnerUserID": "Employee ID", "UserFirst": "Preferred First Name",
                              "UserLast": "Last Name", "UserEmail": "Work Email"}
    assert [c.field for c in recipe.compute] == ["UserAddress"]
    (role,) = recipe.lookups
    assert (role.field, role.source, role.default) == ("UserRole", "Department", "-none-")
    assert role.mapping["customer care"] == "Agent"  # matched ignoring case
    assert recipe.status is not None and recipe.status.leaver == {"terminated", "leaver"}
    assert recipe.ignore == ("Start Date", "Cost Centre")
    assert recipe.column_map["Work Email"] == "UserEmail"
    assert recipe.claimed == {"PartnerUserID", "UserFirst", "UserLast", "UserEmail",
                              "UserAddress", "UserRole"}
    assert len(recipe.sha256) == 64


def test_field_names_match_like_headers() -> None:
    recipe = parse_recipe(b'[columns]\npartner_user_id = "Emp"\n"user email" = "Mail"\n', "r")
    assert recipe.columns == {"PartnerUserID": "Emp", "UserEmail": "Mail"}


@pytest.mark.parametrize(("text", "said"), [
    ("[columns\nPartnerUserID = 1", "is not valid TOML"),
    ("", "is empty"),
    ("[colums]\nPartnerUserID = 'x'", "line 1: unknown table [colums]"),
    ("[columns]\nEmployeeNumber = 'x'", "line 2: 'EmployeeNumber' is not a Glance field"),
    ("[columns]\nPartnerUserID = 'Employee ID'\nUserEmail = 'employee id'",
     'line 3: PartnerUserID and UserEmail both read "employee id"'),
    ("[columns]\nPartnerUserID = 42", "line 2: PartnerUserID must be the export's header"),
    ("[columns]\nPartnerUserID = 'A'\n[lookup.UserRole]\nmap = { a = 'b' }",
     "line 3: [lookup.UserRole] needs from ="),
    ("[lookup.UserRole]\nfrom = 'Dept'", "needs a map = { ... } or a default"),
    ("[lookup.UserRole]\nfrom = 'Dept'\nmap = { Sales = 'Agent', SALES = 'Supervisor' }",
     'map has "SALES" twice'),
    ("[lookup.UserRole]\nfrom = 'Dept'\nmap = { Sales = 3 }", 'must map to text'),
    ("[lookup.UserRole]\nfrom = 'Dept'\ndefault = 'x'\nform = 'y'", "line 4: [lookup.UserRole] "
     "has from, map and default, not 'form'"),
    ("[status]\ncolumn = 'Status'\nleaver = ['Gone', 'Active']\nactive = ['active']",
     'line 4: "active" is both a leaver and an active value'),
    ("[status]\ncolumn = 'Status'\nleaver = ['Gone']", "[status] needs active = "),
    ("[status]\nleaver = ['Gone']\nactive = ['In']", "[status] needs column ="),
    ("[status]\ncolumn = 'S'\nleaver = 'Gone'\nactive = ['In']", "leaver must be a list"),
    ("[ignore]\ncolumns = 'Start Date'", "columns must be a list of text"),
    ("[compute]\nUserPW = '{UserFirst}2026!'", "line 2: UserPW cannot be computed"),
    ("[columns]\nUserAddress = 'Login'\n[compute]\nUserAddress = '{PartnerUserID}'",
     "line 4: UserAddress is both mapped"),
    ("[compute]\nUserAddress = '{UserFirst|lowr}.x'", "line 2: the template for UserAddress "
     "(\"{UserFirst|lowr}.x\") uses the unknown filter 'lowr'"),
    ("\n\n[compute]\nUserAddress = '{UserFirst.x'", "line 4: the template for UserAddress"),
    ("[compute]\nUserAddress = 7", "must be text in quotes"),
    ("columns = 3", "columns must be a table"),
    ("[lookup.UserPW]\nfrom = 'Dept'\ndefault = 'x'", "line 1: UserPW cannot come from a lookup"),
    ("[compute]\nUserRole = '{UserFirst}'\n[lookup.UserRole]\nfrom = 'Dept'\ndefault = 'x'",
     "line 3: UserRole is both computed under [compute] and looked up in [lookup.UserRole]"),
    ("[columns]\nUserRole = 'Job'\n[lookup.UserRole]\nfrom = 'Dept'\ndefault = 'x'",
     'line 3: UserRole is both mapped (to "Job") and looked up'),
])
def test_mistakes_are_refused_naming_the_line(text: str, said: str) -> None:
    message = str(check(text))
    assert message.startswith("recipe acme.recipe.toml")
    assert said in message


def test_a_template_with_ten_thousand_filters_is_refused_in_one_short_line() -> None:
    message = str(check("[compute]\nUserAddress = '{UserFirst" + "|lower" * 10_000 + "}'"))
    assert "line 2" in message and len(message) < 400


def test_a_huge_or_deeply_nested_or_binary_recipe_is_one_clear_line(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ConfigError, match="bytes; a recipe is at most"):
        load_recipe(big)
    deep = "[columns]\nPartnerUserID = 'x'\n[ignore]\ncolumns = " + "[" * 5000 + "]" * 5000
    assert "nested too deeply" in str(check(deep)) or "not valid TOML" in str(check(deep))
    with pytest.raises(ConfigError, match="is saved as UTF-16 .*: save it as UTF-8"):
        parse_recipe("[columns]\nPartnerUserID = 'x'\n".encode("utf-16"), "r")
    with pytest.raises(ConfigError, match="is not UTF-8"):
        parse_recipe(b"[columns]\nPartnerUserID = '\xff'", "r")
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_recipe(tmp_path)


def test_the_digest_is_of_the_bytes() -> None:
    one = parse_recipe(b'[columns]\nPartnerUserID = "A"\n', "r")
    two = parse_recipe(b'[columns]\nPartnerUserID = "A"  # same\n', "r")
    assert one.sha256 != two.sha256
