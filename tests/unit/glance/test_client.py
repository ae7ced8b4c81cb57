"""GlanceClient over real TLS on loopback against scripted servers: requests, auth, paging."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import requests
import trustme

from bulk_provision.errors import (
    AuthError,
    ConfigError,
    InsecureEndpointError,
    PermanentApiError,
    ResponseFormatError,
)
from bulk_provision.glance import CallRecord, Credentials, GlanceClient, GlanceUser, RoleCount
from bulk_provision.glance.loginkey import verify_login_key
from bulk_provision.glance.models import AudioCodes
from bulk_provision.glance.session import https_url
from tests.hostile import Conn, HostileServer, Request, http_response

PW = "s3cret-Partner-PW"
API_KEY = "api-key-0123456789"
CREDS = Credentials("admin.demo.glance.net", partner_pw=PW)
TIMEOUT = (2.0, 5.0)


def scripted(*bodies: bytes) -> object:
    """A behaviour answering the n-th connection's request with the n-th body (HTTP 200)."""
    queue = list(bodies)

    def behaviour(conn: Conn) -> None:
        if conn.read_request() is not None:
            conn.send(http_response(200, queue.pop(0) if queue else b"<r><status>OK</status></r>"))

    return behaviour


def form(request: Request) -> dict[str, str]:
    parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values())
    return {k: v[0] for k, v in parsed.items()}


@pytest.fixture
def records() -> list[CallRecord]:
    return []


def client_for(
    server: HostileServer, records: list[CallRecord] | None = None, **kw: object
) -> GlanceClient:
    on_call = records.append if records is not None else None
    return GlanceClient(
        server.base_url,
        kw.pop("credentials", CREDS),  # type: ignore[arg-type]
        ca_bundle=server.ca_bundle,
        timeout=TIMEOUT,
        on_call=on_call,
        **kw,  # type: ignore[arg-type]
    )


# --- endpoint and configuration --------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "HTTP://www.glance.net", "ftp://x", "www.glance.net", ""]
)
def test_non_https_base_url_is_refused(url: str) -> None:
    with pytest.raises(InsecureEndpointError, match="https://") as info:
        GlanceClient(url, CREDS)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "url", ["https://user:pw@www.glance.net", "https://www.glance.net/?x=1", "https:///path",
            "https://*.example", "https://a..b.example", "https://exa mple.com",
            "https://.example.com", f"https://{'a' * 64}.example", "https://\u200b.example"]
)
def test_odd_base_urls_are_config_errors(url: str) -> None:
    """Refused when the client is made, with a message naming the setting: never a crash (or
    a "transient" failure retried) at the first request."""
    with pytest.raises(ConfigError, match="GLANCE_BASE_URL|base URL"):
        GlanceClient(url, CREDS)


@pytest.mark.parametrize("url", ["https://bücher.example", "https://[::1]:8443",
                                 "https://127.0.0.1:1/glance/", "https://glance.example."])
def test_unusual_but_valid_base_urls_are_taken(url: str) -> None:
    GlanceClient(url, CREDS).close()


def test_missing_ca_bundle_file(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        GlanceClient("https://www.glance.net", CREDS, ca_bundle="/nonexistent/ca.pem")


def test_credentials_rules_and_repr() -> None:
    with pytest.raises(ConfigError, match="host name"):
        Credentials("admin@example.com", partner_pw=PW)
    with pytest.raises(ConfigError):
        Credentials("", partner_pw=PW)
    with pytest.raises(ConfigError, match="password"):
        Credentials("admin.x.glance.net")
    with pytest.raises(ConfigError, match="GLANCE_PARTNER_USER_ID"):
        Credentials("admin.x.glance.net", api_key=API_KEY, partner_id="5")
    with pytest.raises(ConfigError, match="numeric"):
        Credentials("admin.x.glance.net", api_key=API_KEY, partner_id="x", partner_user_id="a")
    both = Credentials("a.glance.net", partner_pw=PW, api_key=API_KEY, partner_id=7,
                       partner_user_id="admin")  # fmt: skip
    for text in (repr(both), str(both), repr(GlanceClient("https://h", both))):
        assert PW not in text and API_KEY not in text and "***" in text


# --- operations ------------------------------------------------------------------------------


def test_new_user_posts_form_fields_and_returns_audio(records: list[CallRecord]) -> None:
    body = (
        b"<response><status>OK</status><dialIn>1 (605) 715-4970</dialIn>"
        b"<hostCode>*1391096</hostCode><guestCode>1391096</guestCode></response>"
    )
    with HostileServer(scripted(body)) as server, client_for(server, records) as client:
        codes = client.new_user(
            {
                "PartnerUserID": "E1",
                "UserAddress": "e1.demo.glance.net",
                "UserPW": "user-pw-99",
                "UserFirst": "",
                "AudioProvider": "666",
            }  # fmt: skip
        )
    assert codes == AudioCodes("1 (605) 715-4970", "*1391096", "1391096")
    [request] = server.requests
    assert request.method == "POST" and request.path == "/PAPI/NewUser.asp"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "PartnerLogin": "admin.demo.glance.net",
        "PartnerPW": PW,
        "PartnerUserID": "E1",
        "UserAddress": "e1.demo.glance.net",
        "UserPW": "user-pw-99",
        "AudioProvider": "666",
    }
    [record] = records
    assert (record.operation, record.partner_user_id, record.http_status, record.outcome) == (
        "NewUser", "E1", 200, "ok")  # fmt: skip
    assert PW not in repr(record) and "user-pw-99" not in repr(record)


def test_the_form_is_encoded_as_requests_would_and_no_cookie_goes_back() -> None:
    """The client prepares its POST itself (no Session): the body must be byte for byte what
    ``requests`` encodes for ``data=``, and a cookie a server sets is never sent back."""
    fields = {"PartnerUserID": "E 1&x=2", "UserAddress": "zoë.o'brien@demo.glance.net",
              "UserFirst": "Zoë+Ann", "UserLast": "Ünal/雪", "UserPW": "p%w d=1&"}

    def behaviour(conn: Conn) -> None:
        while conn.read_request() is not None:
            conn.send(http_response(200, b"<r><status>OK</status></r>",
                                    headers={"Set-Cookie": "session=abc; Path=/"}))

    with HostileServer(behaviour) as server, client_for(server) as client:
        client.new_user(fields)
        client.new_user(fields)
    expected = requests.Request(
        "POST", "https://x/", data={"PartnerLogin": CREDS.partner_login, "PartnerPW": PW,
                                    **fields}).prepare().body
    first, second = server.requests
    for request in (first, second):
        assert request.body == str(expected).encode()
        assert request.headers["content-length"] == str(len(request.body))
        assert request.headers["user-agent"].startswith("bulk-provision/")
        assert "cookie" not in request.headers
    assert form(first)["UserLast"] == "Ünal/雪"


def test_only_https_urls_are_ever_prepared() -> None:
    assert https_url("https://bücher.example/PAPI/NewUser.asp") == (
        "https://xn--bcher-kva.example/PAPI/NewUser.asp")
    with pytest.raises(InsecureEndpointError):
        https_url("http://glance.example/PAPI/NewUser.asp")


def test_update_delete_and_login_key_auth(records: list[CallRecord]) -> None:
    creds = Credentials("admin.demo.glance.net", api_key=API_KEY, partner_id="4242",
                        partner_user_id="admin")  # fmt: skip
    with HostileServer(scripted()) as server, client_for(server, records, credentials=creds) as c:
        c.update_user("E1", {"UserSuspended": "1", "UserEmail": "a@b.c"})
        c.delete_user("E1")
    update, delete = (form(r) for r in server.requests)
    assert [r.path for r in server.requests] == ["/PAPI/UpdateUser.asp", "/PAPI/DeleteUser.asp"]
    assert "PartnerPW" not in update and update["PartnerID"] == "4242"
    assert verify_login_key(update["PartnerAuth"], 4242, "admin", API_KEY, now=time.time())
    assert update["UserSuspended"] == "1" and update["PartnerUserID"] == "E1"
    assert set(delete) == {"PartnerLogin", "PartnerAuth", "PartnerID", "PartnerUserID"}
    assert [r.outcome for r in records] == ["ok", "ok"]


def users_page(puids: list[str], cursor: str | None) -> bytes:
    users = "".join(
        f"<user><PartnerUserID>{p}</PartnerUserID><UserAddress>{p}.x.glance.net</UserAddress>"
        f"<UserRole>-none-</UserRole><UserSuspended>0</UserSuspended></user>"
        for p in puids
    )
    tail = f"<nextPageStart>{cursor}</nextPageStart>" if cursor else ""
    return f"<response><status>OK</status><users>{users}</users>{tail}</response>".encode()


def test_show_users_follows_every_page() -> None:
    pages = [users_page(["A", "B"], "c1"), users_page(["C"], "c2"), users_page(["D"], None)]
    with HostileServer(scripted(*pages)) as server, client_for(server) as client:
        users = list(client.show_users(user_role="Agent", page_count=2))
    assert [u.partner_user_id for u in users] == ["A", "B", "C", "D"]
    assert users[0] == GlanceUser("A", "A.x.glance.net")
    sent = [form(r) for r in server.requests]
    assert [s.get("PageStart") for s in sent] == [None, "c1", "c2"]
    assert all(s["PageCount"] == "2" and s["UserRole"] == "Agent" for s in sent)
    assert all("PartnerUserID" not in s for s in sent)


def test_show_users_refuses_a_repeating_cursor() -> None:
    pages = [users_page(["A"], "same"), users_page(["B"], "same"), users_page(["C"], "same")]
    with HostileServer(scripted(*pages)) as server, client_for(server) as client:
        with pytest.raises(ResponseFormatError, match="repeated a paging cursor"):
            list(client.show_users())
    assert len(server.requests) == 2


def test_show_roles() -> None:
    body = (
        b'<?xml version="1.0" standalone="yes"?><roles><role><name>Agent</name>'
        b"<activeusers>3</activeusers><inactiveusers>1</inactiveusers><users>4</users></role>"
        b"</roles>"
    )
    with HostileServer(scripted(body)) as server, client_for(server) as client:
        assert client.show_roles() == [RoleCount("Agent", 3, 1, 4)]
    assert form(server.requests[0]).keys() == {"PartnerLogin", "PartnerPW"}


def test_error_documents_and_call_records(records: list[CallRecord]) -> None:
    auth = b"<response><status>ERROR</status><code>AUTH</code><message>no</message></response>"
    dup = (
        b"<response><status>ERROR</status><code>DUPLICATE_ID</code>"
        b"<message>PartnerUserID E1 exists</message></response>"
    )
    with HostileServer(scripted(auth, dup)) as server, client_for(server, records) as client:
        with pytest.raises(AuthError) as auth_info:
            client.show_roles()
        with pytest.raises(PermanentApiError) as dup_info:
            client.new_user({"PartnerUserID": "E1", "UserAddress": "e1.x"})
    assert auth_info.value.exit_code == 4
    assert dup_info.value.code == "DUPLICATE_ID"
    assert [r.outcome for r in records] == ["AUTH", "DUPLICATE_ID"]


def test_a_server_echoing_secrets_cannot_put_them_in_a_message() -> None:
    def echo(conn: Conn) -> None:
        request = conn.read_request()
        assert request is not None
        body = b"<response><status>ERROR</status><code>INVALID</code><message>"
        body += request.body.replace(b"&", b" ") + b"</message></response>"
        conn.send(http_response(200, body))

    creds = Credentials("admin.demo.glance.net", api_key=API_KEY, partner_id="1",
                        partner_user_id="admin")  # fmt: skip
    with HostileServer(echo) as server, client_for(server, credentials=creds) as client:
        with pytest.raises(PermanentApiError) as info:
            client.new_user({"PartnerUserID": "E1", "UserPW": "pw$with+odd chars"})
    sent = form(server.requests[0])
    message = str(info.value)
    assert "PartnerUserID=E1" in message
    for secret in (API_KEY, sent["PartnerAuth"], "pw$with+odd chars", "pw%24with%2Bodd+chars"):
        assert secret not in message


# --- certificates and the environment ---------------------------------------------------------


@pytest.fixture
def other_ca_bundle(tmp_path: object) -> Iterator[str]:
    from pathlib import Path

    path = Path(str(tmp_path)) / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    yield str(path)


def test_explicit_ca_bundle_wins_over_environment(
    monkeypatch: pytest.MonkeyPatch, other_ca_bundle: str
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_ca_bundle)
    monkeypatch.setenv("CURL_CA_BUNDLE", other_ca_bundle)
    with HostileServer(scripted()) as server, client_for(server) as client:
        client.delete_user("E1")  # trusted through the explicit bundle, not the environment
    assert len(server.requests) == 1


def test_environment_ca_cannot_make_an_untrusted_server_trusted(
    monkeypatch: pytest.MonkeyPatch, other_ca_bundle: str
) -> None:
    with HostileServer(scripted()) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setenv("CURL_CA_BUNDLE", str(server.ca_bundle))
        for bundle in (other_ca_bundle, None):
            with GlanceClient(server.base_url, CREDS, ca_bundle=bundle, timeout=TIMEOUT) as c:
                with pytest.raises(InsecureEndpointError, match="--ca-bundle"):
                    c.show_roles()
    assert server.requests == []
