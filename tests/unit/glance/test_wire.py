"""wire: form fields built, responses parsed tolerantly, hostile bodies refused cleanly."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_provision.errors import (
    AuthError,
    PermanentApiError,
    ResponseFormatError,
    TransientApiError,
)
from bulk_provision.glance import wire
from bulk_provision.glance.models import AudioCodes, GlanceUser, RoleCount, UsersPage

XML_DECL = b'<?xml version="1.0" standalone="yes"?>\n'

# --- building ------------------------------------------------------------------------------


def test_endpoint_urls() -> None:
    assert wire.endpoint("https://h:1/", "NewUser") == "https://h:1/PAPI/NewUser.asp"
    assert wire.endpoint("https://h", "ShowRoles") == "https://h/PAPI/ShowRoles.asp"
    with pytest.raises(ValueError):
        wire.endpoint("https://h", "CreateRole")


def test_build_sends_only_valued_fields_in_documented_spelling() -> None:
    fields = wire.build_fields(
        "NewUser",
        {
            "partneruserid": "E1",
            "UserAddress": "a.example.glance.net",
            "UserPW": None,
            "UserFirst": "",
            "UserRole": "-none-",
            "AudioProvider": 666,
        },
        auth={"PartnerLogin": "admin.x.glance.net", "PartnerPW": "pw", "PartnerID": None},
    )
    assert fields == {
        "PartnerLogin": "admin.x.glance.net",
        "PartnerPW": "pw",
        "PartnerUserID": "E1",
        "UserAddress": "a.example.glance.net",
        "UserRole": "-none-",
        "AudioProvider": "666",
    }


def test_build_booleans_and_paging() -> None:
    assert wire.build_fields("UpdateUser", {"PartnerUserID": "E1", "UserSuspended": True}) == {
        "PartnerUserID": "E1",
        "UserSuspended": "1",
    }
    assert (
        wire.build_fields("UpdateUser", {"PartnerUserID": "E1", "UserSuspended": False})[
            "UserSuspended"
        ]
        == "0"
    )
    assert wire.build_fields("ShowUsers", {"PageCount": 10, "PageStart": "abc"}) == {
        "PageCount": "10",
        "PageStart": "abc",
    }
    assert wire.build_fields("ShowRoles", {}) == {}


@pytest.mark.parametrize("name", ["OKURL", "ErrURL", "okurl", "ERRURL"])
def test_build_never_sends_redirect_urls(name: str) -> None:
    with pytest.raises(ValueError, match="never sent"):
        wire.build_fields("NewUser", {"PartnerUserID": "E1", name: "https://x/"})


def test_build_refuses_parameters_the_operation_does_not_take() -> None:
    with pytest.raises(ValueError):
        wire.build_fields("DeleteUser", {"PartnerUserID": "E1", "UserRole": "Agent"})
    with pytest.raises(ValueError):
        wire.build_fields("NewUser", {"UserSuspended": "1"})
    with pytest.raises(ValueError):
        wire.build_fields("Bogus", {})


# --- parsing success -------------------------------------------------------------------------


def test_new_user_audio_codes_exact_documented_shape() -> None:
    body = XML_DECL + (
        b"<response>\n  <status>OK</status>\n  <dialIn>1 (605) 715-4970</dialIn>\n"
        b"  <hostCode>*1391096</hostCode>\n  <guestCode>1391096</guestCode>\n</response>"
    )
    codes = wire.parse_new_user(body)
    assert codes == AudioCodes("1 (605) 715-4970", "*1391096", "1391096")
    assert wire.parse_response(body, operation="NewUser") == codes


def test_new_user_without_audio_is_empty_codes() -> None:
    codes = wire.parse_new_user(b"<response><status>OK</status></response>")
    assert codes == AudioCodes() and not codes


@pytest.mark.parametrize(
    "body",
    [
        b"<response><status>OK</status></response>",
        b"<Result><STATUS> ok </STATUS><extra><deep/></extra></Result>",
        b'<r xmlns="urn:x"><Status>OK</Status><unknown a="1">x</unknown></r>',
        b"<response><status>Success</status></response>",
    ],
)
def test_ok_tolerates_any_root_case_namespaces_and_unknown_elements(body: bytes) -> None:
    assert wire.parse_response(body, operation="DeleteUser") is None
    wire.parse_ok(body, operation="UpdateUser")


def test_show_users_page_and_cursor() -> None:
    body = XML_DECL + (
        b"<response><status>OK</status><users>"
        b"<user><PartnerUserID>E1</PartnerUserID><UserAddress>a.x.glance.net</UserAddress>"
        b"<UserFirst>Ann</UserFirst><UserLast>Lee</UserLast><UserEmail>a@x.com</UserEmail>"
        b"<UserRole>Agent</UserRole><UserSuspended>0</UserSuspended><New>x</New></user>"
        b"<USER><partneruserid>E2</partneruserid><useraddress>b.x.glance.net</useraddress>"
        b"<userrole>-none-</userrole><usersuspended>1</usersuspended></USER>"
        b"</users><nextPageStart>42</nextPageStart></response>"
    )
    page = wire.parse_show_users(body)
    assert page == UsersPage(
        users=[
            GlanceUser("E1", "a.x.glance.net", "Ann", "Lee", "a@x.com", "Agent", False),
            GlanceUser("E2", "b.x.glance.net", "", "", "", "", True),
        ],
        next_page_start="42",
    )


def test_show_users_last_page_and_legacy_active_flag() -> None:
    body = (
        b"<response><status>OK</status><users><user><PartnerUserID>E1</PartnerUserID>"
        b"<UserAddress>a</UserAddress><UserActive>false</UserActive></user></users>"
        b"<nextPageStart> </nextPageStart></response>"
    )
    page = wire.parse_show_users(body)
    assert page.next_page_start is None
    assert page.users[0].suspended is True
    empty = wire.parse_show_users(b"<response><status>OK</status><users/></response>")
    assert empty == UsersPage(users=[], next_page_start=None)


def test_show_users_bad_boolean_is_format_error() -> None:
    body = (
        b"<response><status>OK</status><users><user><PartnerUserID>E1</PartnerUserID>"
        b"<UserSuspended>maybe</UserSuspended></user></users></response>"
    )
    with pytest.raises(ResponseFormatError, match="not a boolean"):
        wire.parse_show_users(body)


def test_show_roles_with_and_without_status_element() -> None:
    roles = (
        b"<role><name>Role 2</name><activeusers>3</activeusers><inactiveusers>1</inactiveusers>"
        b"<users>4</users></role><Role><NAME>-none-</NAME><ActiveUsers>5</ActiveUsers></Role>"
    )
    expected = [RoleCount("Role 2", 3, 1, 4), RoleCount("-none-", 5, 0, 5)]
    project_shape = b"<response><status>OK</status><roles>" + roles + b"</roles></response>"
    documented_shape = XML_DECL + b"<roles>" + roles + b"</roles>"
    assert wire.parse_show_roles(project_shape) == expected
    assert wire.parse_show_roles(documented_shape) == expected
    assert wire.parse_response(documented_shape, operation="ShowRoles") == expected


def test_show_roles_bad_count() -> None:
    body = b"<roles><role><name>A</name><activeusers>-1</activeusers></role></roles>"
    with pytest.raises(ResponseFormatError, match="not a count"):
        wire.parse_show_roles(body)


# --- parsing errors --------------------------------------------------------------------------

CODES = ["MISSING", "INVALID", "DUPLICATE_ID", "DUPLICATE_ADDRESS", "NO_ROLE", "NOT_FOUND"]


@pytest.mark.parametrize("code", CODES)
def test_error_documents_are_permanent_with_code_and_message(code: str) -> None:
    body = (
        f"<response><status>ERROR</status><code>{code}</code>"
        f"<message>something about {code}</message></response>"
    ).encode()
    with pytest.raises(PermanentApiError) as info:
        wire.parse_response(body, operation="NewUser")
    assert info.value.code == code
    assert info.value.message == f"something about {code}"
    assert not isinstance(info.value, TransientApiError)


def test_auth_error() -> None:
    body = (
        b"<Response><Status>error</Status><Code>auth</Code><Message>bad login</Message></Response>"
    )
    with pytest.raises(AuthError, match="rejected the partner credentials.*bad login"):
        wire.parse_response(body, operation="ShowRoles")


def test_error_without_status_or_message() -> None:
    with pytest.raises(PermanentApiError) as info:
        wire.parse_ok(b"<fault><code>NOT_FOUND</code></fault>", operation="DeleteUser")
    assert info.value.code == "NOT_FOUND" and "DeleteUser" in info.value.message
    with pytest.raises(PermanentApiError) as info:
        wire.parse_ok(b"<r><status>ERROR</status></r>", operation="DeleteUser")
    assert info.value.code == "ERROR"


def test_error_message_scrubs_echoed_secrets() -> None:
    body = (
        b"<response><status>ERROR</status><code>INVALID</code>"
        b"<message>UserPW 'hunter2!x' and PartnerPW=s%24cret are bad</message></response>"
    )
    with pytest.raises(PermanentApiError) as info:
        wire.parse_ok(body, operation="UpdateUser", secrets=["hunter2!x", "s$cret"])
    assert "hunter2" not in str(info.value) and "cret" not in str(info.value)
    assert "***" in info.value.message


# --- hostile and broken bodies ---------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]><response><status>OK</status><dialIn>&lol9;</dialIn></response>"""

EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<response><status>ERROR</status><code>X</code><message>&x;</message></response>"
)

HOSTILE = {
    "billion laughs": (BILLION_LAUGHS, "DTD"),
    "external entity": (EXTERNAL_ENTITY, "DTD"),
    "bare doctype": (b"<!DOCTYPE r><response><status>OK</status></response>", "DTD"),
    "not xml": (b"this is not xml at all", "not XML"),
    "json": (b'{"status": "OK"}', "not XML"),
    "html page": (
        b"<html><head><title>500 Internal Server Error</title></head><body><h1>Oops<br></h1>"
        b"</body></html>",
        "not XML",
    ),
    "xhtml page": (b"<html><body><p>Service Unavailable</p></body></html>", "an HTML page"),
    "empty": (b"", "empty"),
    "whitespace": (b" \r\n\t ", "empty"),
    "binary": (bytes(range(256)) * 4, "not XML"),
    "truncated": (b"<response><status>OK</status><users><user>", "not XML"),
    "unknown status": (b"<response><status>MAYBE</status></response>", "unknown status"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("operation", wire.OPERATIONS)
def test_hostile_bodies_are_clean_format_errors(name: str, operation: str) -> None:
    body, why = HOSTILE[name]
    with pytest.raises(ResponseFormatError) as info:
        wire.parse_response(body, operation=operation)
    message = str(info.value)
    assert why in message and operation in message
    assert len(message) < 300
    assert "lol" * 3 not in message and "passwd" not in message
    assert info.value.maybe_committed  # the server got the request and answered something


def test_body_over_the_cap_is_refused_before_parsing() -> None:
    body = b"<response><status>OK</status>" + b"<x/>" * 1000 + b"</response>"
    with pytest.raises(ResponseFormatError, match="larger than 1000 bytes"):
        wire.parse_response(body, operation="ShowRoles", max_bytes=1000)


def test_excerpt_is_short_printable_and_scrubbed() -> None:
    body = b"<html>\x00\x01 PartnerPW=topsecret \xff\xfe" + b"A" * 5000
    with pytest.raises(ResponseFormatError) as info:
        wire.parse_response(body, operation="NewUser", secrets=["topsecret"])
    message = str(info.value)
    assert "topsecret" not in message and "\x00" not in message
    assert message.isprintable() and len(message) < 200


# --- round trip ------------------------------------------------------------------------------

xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)


@given(st.lists(st.tuples(xml_text, xml_text, xml_text, xml_text, st.booleans()), max_size=5))
def test_show_users_round_trip_keeps_any_text(
    rows: list[tuple[str, str, str, str, bool]],
) -> None:
    parts = []
    for puid, address, first, role, suspended in rows:
        parts.append(
            f"<user><PartnerUserID>{escape(puid)}</PartnerUserID>"
            f"<UserAddress>{escape(address)}</UserAddress><UserFirst>{escape(first)}</UserFirst>"
            f"<UserRole>{escape(role)}</UserRole><UserSuspended>{int(suspended)}</UserSuspended>"
            "</user>"
        )
    body = f"<response><status>OK</status><users>{''.join(parts)}</users></response>"
    page = wire.parse_show_users(body.encode("utf-8"))
    expected_roles = ["" if r.strip().lower() == "-none-" else r for *_, r, _ in rows]
    assert [(u.partner_user_id, u.user_address, u.user_first, u.suspended) for u in page.users] == [
        (p, a, f, s) for p, a, f, _, s in rows
    ]
    assert [u.user_role for u in page.users] == expected_roles
