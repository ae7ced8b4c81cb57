"""Every roster rule, one valid and one invalid case each, with the exact message an admin reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import Problem, validate_roster

GOOD = {
    "PartnerUserID": "00123",
    "UserAddress": "jane.doe.example.glance.net",
    "UserPW": "s3cret-pass",
    "UserFirst": "Jane",
    "UserLast": "Doe",
    "UserEmail": "jane.doe@example.com",
    "UserRole": "Agent",
    "AudioProvider": "1",
    "Action": "create",
}


def roster_of(rows: list[dict[str, str]], headers: dict[str, str] | None = None) -> Roster:
    frame = pd.DataFrame(rows, index=range(2, len(rows) + 2), dtype=object)
    names = {c: c for c in frame.columns} | (headers or {})
    return Roster(path=Path("staff.csv"), frame=frame, headers=names, sha256="0" * 64)


def problems_for(column: str, value: str) -> list[Problem]:
    return validate_roster(roster_of([GOOD | {column: value}])).problems


VALID = [
    ("PartnerUserID", "x" * 255),
    ("PartnerUserID", "A-1 b/2"),
    ("UserAddress", "a"),
    ("UserAddress", "agent-001234.Example.glance.net"),
    ("UserAddress", "x" * 127),
    ("UserPW", ""),
    ("UserPW", "p" * 8),
    ("UserPW", "p" * 49),
    ("UserFirst", ""),
    ("UserFirst", "Zoë-Ågot" + "x" * 41),
    ("UserLast", "y" * 49),
    ("UserEmail", ""),
    ("UserEmail", "first.last+tag@mail.example.co.uk"),
    ("UserRole", ""),
    ("UserRole", "r" * 70),
    ("UserRole", "-none-"),
    ("AudioProvider", ""),
    ("AudioProvider", "666"),
    ("Action", ""),
    ("Action", "Reinstate"),
    ("Action", "DELETE"),
]

INVALID = [
    ("PartnerUserID", "", "PartnerUserID.required",
     "PartnerUserID is required but the cell is empty"),
    ("PartnerUserID", "x" * 256, "PartnerUserID.length",
     "PartnerUserID must be at most 255 characters (has 256)"),
    ("UserAddress", "", "UserAddress.required", "UserAddress is required but the cell is empty"),
    ("UserAddress", "jane doe.glance.net", "UserAddress.characters",
     "UserAddress may contain only letters, digits, '.' and '-' (found ' ')"),
    ("UserAddress", "jane_doe@glance.net", "UserAddress.characters",
     "UserAddress may contain only letters, digits, '.' and '-' (found '_', '@')"),
    ("UserAddress", ".jane.glance.net", "UserAddress.ends",
     "UserAddress may not start or end with '.' or '-' (found '.jane.glance.net')"),
    ("UserAddress", "jane.glance.net-", "UserAddress.ends",
     "UserAddress may not start or end with '.' or '-' (found 'jane.glance.net-')"),
    ("UserAddress", "a" * 128, "UserAddress.length",
     "UserAddress must be at most 127 characters (has 128)"),
    ("UserPW", "short", "UserPW.length", "UserPW must be at least 8 characters (has 5)"),
    ("UserPW", "p" * 50, "UserPW.length", "UserPW must be at most 49 characters (has 50)"),
    ("UserFirst", "f" * 50, "UserFirst.length", "UserFirst must be at most 49 characters (has 50)"),
    ("UserLast", "l" * 60, "UserLast.length", "UserLast must be at most 49 characters (has 60)"),
    ("UserEmail", "bob@", "UserEmail.format", "UserEmail 'bob@' is not a valid email address"),
    ("UserEmail", "bob smith@example.com", "UserEmail.format",
     "UserEmail 'bob smith@example.com' is not a valid email address"),
    ("UserEmail", "bob@example", "UserEmail.format",
     "UserEmail 'bob@example' is not a valid email address"),
    ("UserRole", "r" * 71, "UserRole.length", "UserRole must be at most 70 characters (has 71)"),
    ("AudioProvider", "2", "AudioProvider.value",
     "AudioProvider must be empty or one of 1, 666 (found '2')"),
    ("AudioProvider", "1.0", "AudioProvider.value",
     "AudioProvider must be empty or one of 1, 666 (found '1.0')"),
    ("Action", "remove", "Action.value",
     "Action must be empty or one of create, update, suspend, reinstate, delete (found 'remove')"),
]


@pytest.mark.parametrize(("column", "value"), VALID)
def test_valid_value_passes(column: str, value: str) -> None:
    assert problems_for(column, value) == []


@pytest.mark.parametrize(("column", "value", "rule", "message"), INVALID)
def test_invalid_value_is_reported(column: str, value: str, rule: str, message: str) -> None:
    shown = "***" if column == "UserPW" else value
    assert problems_for(column, value) == [Problem(2, column, shown, rule, message)]


def test_email_too_long_and_malformed_reports_both() -> None:
    value = "x" * 130
    rules = [p.rule for p in problems_for("UserEmail", value)]
    assert rules == ["UserEmail.format", "UserEmail.length"]


def test_only_canonical_columns_are_checked_and_extra_columns_pass() -> None:
    roster = roster_of([GOOD | {"Cost Centre": "=SUM(A1)"}])
    assert validate_roster(roster).ok


def test_optional_columns_may_be_absent() -> None:
    roster = roster_of([{"PartnerUserID": "1", "UserAddress": "a.glance.net"}])
    result = validate_roster(roster)
    assert result.ok and result.rows == 1


@pytest.mark.parametrize("value", ["e<script>@example.com", 'a"b@example.com', "a,b@example.com",
                                   "a@exa mple.com", "a@example.com>", "a@[127.0.0.1]",
                                   "a@b@example.com", "a@example"])
def test_an_address_with_markup_or_quoting_is_not_an_email(value: str) -> None:
    assert [p.rule for p in problems_for("UserEmail", value)] == ["UserEmail.format"]


@pytest.mark.parametrize("value", ["o'brien@example.com", "ann.lee+work@example.co.uk",
                                   "zoë@bücher.de", "a_b-c@mail-1.example.com"])
def test_real_addresses_are_emails(value: str) -> None:
    assert problems_for("UserEmail", value) == []
