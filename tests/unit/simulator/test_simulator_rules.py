"""The simulator's parameter rules, authentication and user lifecycle, over real HTTPS."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from bulk_provision.glance.loginkey import login_key
from bulk_provision.simulator import Simulator

if TYPE_CHECKING:
    from conftest import RawPapi

NEW = {"PartnerUserID": "agent001", "UserAddress": "agent001.demo.glance.net"}

# One case per rule: (operation, parameters, expected error code).
RULE_CASES = [
    ("NewUser", {"UserAddress": "a.demo.glance.net"}, "MISSING"),
    ("NewUser", {"PartnerUserID": "  ", "UserAddress": "a.demo.glance.net"}, "MISSING"),
    ("NewUser", {"PartnerUserID": "x" * 256, "UserAddress": "a.demo.glance.net"}, "INVALID"),
    ("NewUser", {"PartnerUserID": "p1"}, "MISSING"),
    ("NewUser", {**NEW, "UserAddress": "has space.glance.net"}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": "under_score.glance.net"}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": ".lead.glance.net"}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": "trail.glance.net."}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": "-lead.glance.net"}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": "trail.glance.net-"}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": "a" * 128}, "INVALID"),
    ("NewUser", {**NEW, "UserAddress": "jos\u00e9.glance.net"}, "INVALID"),
    ("NewUser", {**NEW, "UserPW": "short7!"}, "INVALID"),
    ("NewUser", {**NEW, "UserPW": "p" * 50}, "INVALID"),
    ("NewUser", {**NEW, "UserFirst": "f" * 50}, "INVALID"),
    ("NewUser", {**NEW, "UserLast": "l" * 50}, "INVALID"),
    ("NewUser", {**NEW, "UserEmail": "e" * 128}, "INVALID"),
    ("NewUser", {**NEW, "UserFirst": "bell\x07"}, "INVALID"),
    ("NewUser", {**NEW, "UserRole": "r" * 71}, "INVALID"),
    ("NewUser", {**NEW, "UserRole": "Manager"}, "NO_ROLE"),
    ("NewUser", {**NEW, "AudioProvider": "2"}, "INVALID"),
    ("NewUser", {**NEW, "AudioProvider": "yes"}, "INVALID"),
    ("UpdateUser", {}, "MISSING"),
    ("UpdateUser", {"PartnerUserID": "nobody"}, "NOT_FOUND"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserSuspended": "maybe"}, "INVALID"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserActive": "Y"}, "INVALID"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserRole": "r" * 32}, "INVALID"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserRole": "Boss"}, "NO_ROLE"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserAddress": ""}, "INVALID"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserAddress": "bad_addr"}, "INVALID"),
    ("UpdateUser", {"PartnerUserID": "seeded", "UserPW": "1234567"}, "INVALID"),
    (
        "UpdateUser",
        {"PartnerUserID": "seeded", "UserAddress": "other.demo.glance.net"},
        "DUPLICATE_ADDRESS",
    ),
    ("DeleteUser", {}, "MISSING"),
    ("DeleteUser", {"PartnerUserID": "nobody"}, "NOT_FOUND"),
    ("ShowUsers", {}, "MISSING"),
    ("ShowUsers", {"PageCount": "0"}, "INVALID"),
    ("ShowUsers", {"PageCount": "1001"}, "INVALID"),
    ("ShowUsers", {"PageCount": "ten"}, "INVALID"),
    ("ShowUsers", {"PageCount": "5", "PageStart": "1" * 16}, "INVALID"),
    ("ShowUsers", {"PageCount": "5", "PageStart": "abc"}, "INVALID"),
    ("ShowUsers", {"PageCount": "5", "UserAddress": "a" * 128}, "INVALID"),
]


@pytest.mark.parametrize(("operation", "params", "code"), RULE_CASES)
def test_rule_violations_give_their_error_code(
    simulator: Simulator, papi: RawPapi, operation: str, params: dict[str, str], code: str
) -> None:
    simulator.add_user("seeded", "seeded.demo.glance.net", user_first="Ann")
    simulator.add_user("other", "other.demo.glance.net")
    before = simulator.users()
    assert papi.error(operation, **params) == code
    assert simulator.users() == before  # an ERROR changes nothing
    last = simulator.request_log[-1]
    assert (last.operation, last.committed, last.result) == (operation, False, code)


@pytest.mark.parametrize(
    ("params", "stored"),
    [
        ({"UserPW": "12345678"}, {"user_pw": "12345678"}),
        (
            {"UserPW": "p" * 49, "UserFirst": "f" * 49, "UserLast": "l" * 49},
            {"user_first": "f" * 49},
        ),
        ({"UserEmail": "e" * 127}, {"user_email": "e" * 127}),
        ({"UserAddress": "a" * 127}, {"user_address": "a" * 127}),
        ({"UserAddress": "X1-y.Z"}, {"user_address": "X1-y.Z"}),
        ({"PartnerUserID": "p" * 255}, {"partner_user_id": "p" * 255}),
        ({"UserRole": "supervisor"}, {"user_role": "Supervisor"}),
        ({"UserRole": "-none-"}, {"user_role": ""}),
        ({"UserRole": ""}, {"user_role": ""}),
        ({"UserRole": "r" * 70}, {"user_role": "r" * 70}),
        ({"UserFirst": "Zo\u00eb \u674e <&>"}, {"user_first": "Zo\u00eb \u674e <&>"}),
    ],
)
def test_values_at_the_limits_are_accepted(
    make_simulator: Callable[..., Simulator],
    papi_for: Callable[[Simulator], RawPapi],
    params: dict[str, str],
    stored: dict[str, str],
) -> None:
    sim = make_simulator(roles=("Agent", "Supervisor", "r" * 70))
    caller = papi_for(sim)
    sent = {**NEW, **params}
    caller.ok("NewUser", **sent)
    user = sim.users()[sent["PartnerUserID"]]
    for name, value in stored.items():
        assert getattr(user, name) == value


def test_parameter_names_match_case_insensitively(simulator: Simulator, papi: RawPapi) -> None:
    papi.ok(
        "NewUser",
        auth={"partnerlogin": "ADMIN.demo.glance.net", "PARTNERPW": "demo-password"},
        partneruserid="p1",
        USERADDRESS="p1.demo.glance.net",
        userRole="AGENT",
    )
    assert simulator.users()["p1"].user_role == "Agent"


# ---------------------------------------------------------------- authentication


def _key_auth(
    sim: Simulator,
    *,
    exp: int,
    partner_id: str | None = None,
    tamper: bool = False,
    api_key: str | None = None,
) -> dict[str, str]:
    cfg = sim.config
    key = login_key(cfg.partner_id, cfg.admin_partner_user_id, api_key or cfg.api_key, exp=exp)
    if tamper:
        key = key[:-1] + ("A" if key[-1] != "A" else "B")
    return {
        "PartnerLogin": cfg.partner_login,
        "PartnerAuth": key,
        "PartnerID": cfg.partner_id if partner_id is None else partner_id,
    }


def test_login_key_within_a_day_is_accepted(simulator: Simulator, papi: RawPapi) -> None:
    papi.ok("ShowRoles", auth=_key_auth(simulator, exp=int(time.time()) + 3600))
    papi.ok("ShowRoles", auth=_key_auth(simulator, exp=int(time.time()) + 86400))


@pytest.mark.parametrize(
    "case",
    ["expired", "two_days_ahead", "tampered", "wrong_partner_id", "no_partner_id", "other_api_key"],
)
def test_bad_login_keys_are_refused(simulator: Simulator, papi: RawPapi, case: str) -> None:
    now = int(time.time())
    auth = {
        "expired": lambda: _key_auth(simulator, exp=now - 10),
        "two_days_ahead": lambda: _key_auth(simulator, exp=now + 2 * 86400),
        "tampered": lambda: _key_auth(simulator, exp=now + 600, tamper=True),
        "wrong_partner_id": lambda: _key_auth(simulator, exp=now + 600, partner_id="99999"),
        "no_partner_id": lambda: _key_auth(simulator, exp=now + 600, partner_id=""),
        "other_api_key": lambda: _key_auth(simulator, exp=now + 600, api_key="stolen-guess"),
    }[case]()
    assert papi.error("NewUser", auth=auth, **NEW) == "AUTH"
    assert simulator.users() == {}


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"PartnerLogin": "admin.demo.glance.net"},
        {"PartnerLogin": "admin.demo.glance.net", "PartnerPW": "wrong-password"},
        {"PartnerLogin": "admin@demo.glance.net", "PartnerPW": "demo-password"},
        {"PartnerLogin": "someone.demo.glance.net", "PartnerPW": "demo-password"},
        {"PartnerPW": "demo-password"},
        {"PartnerLogin": "admin.demo.glance.net", "PartnerPW": "demo-password", "PartnerID": "1"},
    ],
)
def test_bad_passwords_and_logins_are_refused(
    simulator: Simulator, papi: RawPapi, auth: dict[str, str]
) -> None:
    for operation in ("NewUser", "ShowUsers", "ShowRoles"):
        assert papi.error(operation, auth=auth, PageCount="5", **NEW) == "AUTH"
    assert simulator.users() == {}


def test_auth_is_checked_before_the_parameters(papi: RawPapi) -> None:
    assert papi.error("NewUser", auth={"PartnerLogin": "x"}) == "AUTH"


# ---------------------------------------------------------------- lifecycle


def test_duplicate_id_and_address_are_refused_case_rules(
    simulator: Simulator, papi: RawPapi
) -> None:
    papi.ok("NewUser", **NEW)
    assert papi.error("NewUser", **NEW) == "DUPLICATE_ID"
    upper = {"PartnerUserID": "other", "UserAddress": NEW["UserAddress"].upper()}
    assert papi.error("NewUser", **upper) == "DUPLICATE_ADDRESS"
    # PartnerUserID is exact: a different case is another user.
    papi.ok("NewUser", PartnerUserID="AGENT001", UserAddress="agent001b.demo.glance.net")
    assert simulator.created_counts() == {"agent001": 1, "AGENT001": 1}


def test_delete_frees_id_and_address(simulator: Simulator, papi: RawPapi) -> None:
    papi.ok("NewUser", **NEW)
    papi.ok("DeleteUser", PartnerUserID=NEW["PartnerUserID"])
    assert simulator.users() == {}
    assert papi.error("DeleteUser", PartnerUserID=NEW["PartnerUserID"]) == "NOT_FOUND"
    papi.ok("NewUser", **NEW)
    assert simulator.created_counts()[NEW["PartnerUserID"]] == 2


def test_update_changes_only_the_fields_sent(simulator: Simulator, papi: RawPapi) -> None:
    papi.ok(
        "NewUser",
        **NEW,
        UserFirst="Ann",
        UserLast="Lee",
        UserEmail="a@x.org",
        UserRole="Agent",
        UserPW="secret-pw-1",
    )
    papi.ok("UpdateUser", PartnerUserID="agent001", UserLast="Smith", UserRole="-none-")
    user = simulator.users()["agent001"]
    assert (user.user_first, user.user_last, user.user_email) == ("Ann", "Smith", "a@x.org")
    assert (user.user_role, user.user_pw, user.suspended) == ("", "secret-pw-1", False)
    papi.ok("UpdateUser", PartnerUserID="agent001", UserAddress="Renamed.demo.glance.net")
    assert simulator.users()["agent001"].user_address == "Renamed.demo.glance.net"
    # The old address is free again; its own address in another case is no conflict.
    papi.ok("NewUser", PartnerUserID="b", UserAddress=NEW["UserAddress"])
    papi.ok("UpdateUser", PartnerUserID="agent001", UserAddress="renamed.demo.glance.net")
    log = [(r.operation, r.committed) for r in simulator.request_log]
    assert log[1] == ("UpdateUser", True)
    papi.ok("UpdateUser", PartnerUserID="agent001", UserLast="Smith")
    assert simulator.request_log[-1].committed is False  # nothing changed


@pytest.mark.parametrize(
    ("params", "suspended"),
    [
        ({"UserSuspended": "1"}, True),
        ({"UserSuspended": "YES"}, True),
        ({"UserSuspended": "True"}, True),
        ({"UserActive": "0"}, True),
        ({"UserActive": "no"}, True),
        ({"UserActive": "false", "UserSuspended": "false"}, False),  # UserSuspended wins
        ({"UserActive": "true", "UserSuspended": "1"}, True),
        ({}, False),
    ],
)
def test_suspension_spellings_and_precedence(
    simulator: Simulator, papi: RawPapi, params: dict[str, str], suspended: bool
) -> None:
    simulator.add_user("u", "u.demo.glance.net")
    papi.ok("UpdateUser", PartnerUserID="u", **params)
    assert simulator.users()["u"].suspended is suspended


def test_reinstatement(simulator: Simulator, papi: RawPapi) -> None:
    simulator.add_user("u", "u.demo.glance.net", suspended=True)
    papi.ok("UpdateUser", PartnerUserID="u", UserSuspended="0")
    assert simulator.users()["u"].suspended is False
    papi.ok("UpdateUser", PartnerUserID="u", UserActive="0")
    papi.ok("UpdateUser", PartnerUserID="u", UserActive="Yes")
    assert simulator.users()["u"].suspended is False
