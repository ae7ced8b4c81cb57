"""ShowUsers, ShowRoles, audio accounts, OKURL redirects and GET, over real HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest

from bulk_provision.simulator import Simulator

if TYPE_CHECKING:
    from conftest import RawPapi

USER_CHILDREN = [
    "PartnerUserID",
    "UserAddress",
    "UserFirst",
    "UserLast",
    "UserEmail",
    "UserRole",
    "UserSuspended",
]


def _seed(sim: Simulator) -> None:
    sim.add_user("Sales001", "ann.east.demo.glance.net", user_role="Agent", user_pw="secret-pw-1")
    sim.add_user("Sales002", "bob.east.demo.glance.net", user_role="supervisor", suspended=True)
    sim.add_user("Ops034", "cy.west.demo.glance.net", user_role="Agent", suspended=True)
    sim.add_user("sales004", "di.west.demo.glance.net")
    sim.add_user("Ops134", "ed.East.demo.glance.net", user_first="Ed", user_email="ed@x.org")


def _puids(root: ElementTree.Element) -> list[str]:
    return [user.findtext("PartnerUserID") or "" for user in root.iter("user")]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({}, ["Sales001", "Sales002", "Ops034", "sales004", "Ops134"]),
        ({"PartnerUserID": "Sales001"}, ["Sales001"]),
        ({"PartnerUserID": "sales001"}, []),  # PartnerUserID is exact, case-sensitive
        ({"PartnerUserID": "Sales*"}, ["Sales001", "Sales002"]),
        ({"PartnerUserID": "*34"}, ["Ops034", "Ops134"]),
        ({"PartnerUserID": "*ps*"}, ["Ops034", "Ops134"]),
        ({"PartnerUserID": "*"}, ["Sales001", "Sales002", "Ops034", "sales004", "Ops134"]),
        ({"PartnerUserID": "-none-"}, []),
        ({"UserAddress": "BOB.east.demo.glance.net"}, ["Sales002"]),
        ({"UserAddress": "*.east.demo.glance.net"}, ["Sales001", "Sales002", "Ops134"]),
        ({"UserAddress": "di.*"}, ["sales004"]),
        ({"UserRole": "agent"}, ["Sales001", "Ops034"]),
        ({"UserRole": "Super*"}, ["Sales002"]),
        ({"UserRole": "-none-"}, ["sales004", "Ops134"]),
        ({"UserRole": "Agent", "UserAddress": "*.west.demo.glance.net"}, ["Ops034"]),
        ({"PartnerUserID": "Sales*", "UserRole": "-none-"}, []),
        ({"PartnerUserID": "Ops*", "UserRole": "-NONE-"}, ["Ops134"]),
        ({"PartnerUserID": "Sales002", "UserRole": "Agent"}, []),
        ({"PartnerUserID": "Sales002", "UserRole": "supervisor"}, ["Sales002"]),
        ({"PartnerUserID": "nobody"}, []),
        ({"UserAddress": "nobody.demo.glance.net"}, []),
        ({"UserAddress": "ED.east.demo.glance.net", "PartnerUserID": "Ops*"}, ["Ops134"]),
        ({"UserAddress": "ED.east.demo.glance.net", "PartnerUserID": "Sales*"}, []),
    ],
)
def test_show_users_criteria(
    simulator: Simulator, papi: RawPapi, criteria: dict[str, str], expected: list[str]
) -> None:
    _seed(simulator)
    root = papi.ok("ShowUsers", PageCount="100", **criteria)
    assert _puids(root) == expected
    assert root.find("nextPageStart") is None


def test_show_users_document_shape_never_has_passwords(simulator: Simulator, papi: RawPapi) -> None:
    _seed(simulator)
    root = papi.ok("ShowUsers", PageCount="10", PartnerUserID="Sales002")
    assert [child.tag for child in root] == ["status", "users"]
    (user,) = root.find("users") or []
    assert [child.tag for child in user] == USER_CHILDREN
    assert user.findtext("UserRole") == "Supervisor"
    assert user.findtext("UserSuspended") == "1"
    root = papi.ok("ShowUsers", PageCount="10")
    body = ElementTree.tostring(root, encoding="unicode")
    assert "secret-pw-1" not in body and "UserPW" not in body
    assert [u.findtext("UserRole") for u in root.iter("user")][3] == "-none-"
    ed = root.findall("users/user")[4]
    assert (ed.findtext("UserFirst"), ed.findtext("UserEmail")) == ("Ed", "ed@x.org")


def test_paging_over_three_pages_with_page_count_two(simulator: Simulator, papi: RawPapi) -> None:
    _seed(simulator)
    seen: list[str] = []
    cursors: list[str] = []
    params: dict[str, str] = {"PageCount": "2"}
    for _ in range(10):  # bounded: three pages expected
        root = papi.ok("ShowUsers", **params)
        seen.extend(_puids(root))
        cursor = root.findtext("nextPageStart")
        if cursor is None:
            break
        assert 0 < len(cursor) <= 15
        cursors.append(cursor)
        params = {"PageCount": "2", "PageStart": cursor}
    assert seen == ["Sales001", "Sales002", "Ops034", "sales004", "Ops134"]
    assert len(cursors) == 2


def test_paging_is_stable_when_users_are_deleted_between_pages(
    simulator: Simulator, papi: RawPapi
) -> None:
    _seed(simulator)
    first = papi.ok("ShowUsers", PageCount="2")
    papi.ok("DeleteUser", PartnerUserID="Sales001")  # already seen
    rest = papi.ok("ShowUsers", PageCount="10", PageStart=first.findtext("nextPageStart") or "")
    assert _puids(first) + _puids(rest) == ["Sales001", "Sales002", "Ops034", "sales004", "Ops134"]


def test_show_users_on_an_exact_page_boundary_has_no_next_page(
    simulator: Simulator, papi: RawPapi
) -> None:
    _seed(simulator)
    assert papi.ok("ShowUsers", PageCount="5").find("nextPageStart") is None
    assert papi.ok("ShowUsers", PageCount="4").findtext("nextPageStart")


def _roles(root: ElementTree.Element) -> dict[str, tuple[int, int, int]]:
    counts = {}
    for role in root.iter("role"):
        assert [c.tag for c in role] == ["name", "activeusers", "inactiveusers", "users"]
        values = tuple(
            int(role.findtext(tag) or -1) for tag in ("activeusers", "inactiveusers", "users")
        )
        counts[role.findtext("name") or ""] = values
    return counts


def test_show_roles_counts_with_none_and_suspended_as_inactive(
    simulator: Simulator, papi: RawPapi
) -> None:
    assert _roles(papi.ok("ShowRoles")) == {}
    _seed(simulator)
    root = papi.ok("ShowRoles")
    assert [child.tag for child in root] == ["status", "roles"]
    assert _roles(root) == {"Agent": (1, 1, 2), "Supervisor": (0, 1, 1), "-none-": (2, 0, 2)}


def test_show_roles_lists_only_roles_with_users_unless_asked(
    make_simulator: Callable[..., Simulator], papi_for: Callable[[Simulator], RawPapi]
) -> None:
    faithful = make_simulator(roles=("Agent", "Supervisor", "Trainer"))
    faithful.add_user("a", "a.demo.glance.net", user_role="Agent")
    assert _roles(papi_for(faithful).ok("ShowRoles")) == {"Agent": (1, 0, 1)}
    listing = make_simulator(roles=("Agent", "Supervisor", "Trainer"), list_empty_roles=True)
    listing.add_user("a", "a.demo.glance.net", user_role="Agent")
    assert _roles(papi_for(listing).ok("ShowRoles")) == {
        "Agent": (1, 0, 1),
        "Supervisor": (0, 0, 0),
        "Trainer": (0, 0, 0),
    }


@pytest.mark.parametrize("provider", ["1", "666"])
def test_audio_codes_are_deterministic_per_user(
    make_simulator: Callable[..., Simulator],
    papi_for: Callable[[Simulator], RawPapi],
    provider: str,
) -> None:
    answers = []
    for _ in range(2):  # two independent simulators give the same codes for the same user
        caller = papi_for(make_simulator())
        root = caller.ok(
            "NewUser",
            PartnerUserID="agent7",
            UserAddress="a7.demo.glance.net",
            AudioProvider=provider,
        )
        assert [child.tag for child in root] == ["status", "dialIn", "hostCode", "guestCode"]
        answers.append({child.tag: child.text for child in root})
        other = caller.ok(
            "NewUser",
            PartnerUserID="agent8",
            UserAddress="a8.demo.glance.net",
            AudioProvider=provider,
        )
        assert other.findtext("guestCode") != root.findtext("guestCode")
        assert caller.sim.users()["agent7"].audio == {
            k: v for k, v in answers[-1].items() if k != "status"
        }
    assert answers[0] == answers[1]
    guest = answers[0]["guestCode"] or ""
    assert len(guest) == 7 and guest.isdigit()
    assert answers[0]["hostCode"] == "*" + guest
    assert answers[0]["dialIn"] is not None
    assert len([c for c in answers[0]["dialIn"] if c.isdigit()]) == 11


def test_no_audio_provider_means_no_audio_elements(simulator: Simulator, papi: RawPapi) -> None:
    root = papi.ok("NewUser", PartnerUserID="p", UserAddress="p.demo.glance.net", AudioProvider="")
    assert [child.tag for child in root] == ["status"]
    assert simulator.users()["p"].audio is None


def test_audio_failure_still_creates_the_user(
    make_simulator: Callable[..., Simulator], papi_for: Callable[[Simulator], RawPapi]
) -> None:
    sim = make_simulator(audio_fail_rate=1.0)
    root = papi_for(sim).ok(
        "NewUser", PartnerUserID="p", UserAddress="p.demo.glance.net", AudioProvider="1"
    )
    assert [child.tag for child in root] == ["status"]
    assert sim.users()["p"].audio is None
    assert sim.created_counts() == {"p": 1}
    assert sim.request_log[-1].committed is True


@pytest.mark.parametrize(
    ("ok_url", "prefix"),
    [
        ("https://partner.example/done", "https://partner.example/done?"),
        ("https://partner.example/done?row=7", "https://partner.example/done?row=7&"),
    ],
)
def test_ok_url_redirects_with_audio_codes(
    simulator: Simulator, papi: RawPapi, ok_url: str, prefix: str
) -> None:
    response = papi.call(
        "NewUser",
        PartnerUserID="p",
        UserAddress="p.demo.glance.net",
        AudioProvider="666",
        OKURL=ok_url,
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(prefix)
    query = parse_qs(urlsplit(location).query)
    assert {key: values[0] for key, values in query.items() if key != "row"} == simulator.users()[
        "p"
    ].audio


def test_ok_url_is_not_followed_on_error(papi: RawPapi) -> None:
    assert papi.error("NewUser", PartnerUserID="p", OKURL="https://partner.example/") == "MISSING"


def test_get_works_like_post(simulator: Simulator, papi: RawPapi) -> None:
    papi.ok("NewUser", method="GET", PartnerUserID="g", UserAddress="g.demo.glance.net")
    assert "g" in simulator.users()
    assert _puids(papi.ok("ShowUsers", method="GET", PageCount="1")) == ["g"]


def test_unknown_path_is_a_plain_404(simulator: Simulator, papi: RawPapi) -> None:
    response = papi.session.post(
        simulator.base_url + "/PAPI/CreateRole.asp", data=papi.auth, timeout=10
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert simulator.request_log[-1].result == "HTTP404"


def test_path_matches_case_insensitively(simulator: Simulator, papi: RawPapi) -> None:
    response = papi.session.post(
        simulator.base_url + "/papi/showroles.ASP", data=papi.auth, timeout=10
    )
    assert response.status_code == 200 and b"<status>OK</status>" in response.content
