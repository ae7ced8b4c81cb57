"""GlanceClient against hostile and broken HTTPS servers: each ends in a clean, bounded error."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs

import pytest
import trustme

from bulk_provision.errors import (
    GlanceError,
    InsecureEndpointError,
    PermanentApiError,
    ResponseFormatError,
    TransientApiError,
)
from bulk_provision.glance import CallRecord, Credentials, GlanceClient
from bulk_provision.glance.transport import retry_after_seconds
from tests.hostile import (
    Behaviour,
    Conn,
    HostileServer,
    drip,
    drop_after_request,
    endless_body,
    http_response,
    never_answer,
    respond,
    silent_before_request,
)
from tests.unit.glance.test_wire import BILLION_LAUGHS

PW = "hostile-test-PW"
CREDS = Credentials("admin.demo.glance.net", partner_pw=PW)
FAST = (1.0, 1.0)


def call(server: HostileServer, timeout: tuple[float, float] = FAST, **kw: object) -> GlanceError:
    """Make one NewUser call and return the error it raised (there must be one)."""
    records: list[CallRecord] = []
    with GlanceClient(
        server.base_url, CREDS, ca_bundle=server.ca_bundle, timeout=timeout,
        on_call=records.append, **kw,  # type: ignore[arg-type]
    ) as client:  # fmt: skip
        with pytest.raises(GlanceError) as info:
            client.new_user({"PartnerUserID": "E1", "UserAddress": "e1.x", "UserPW": "user-PW-1"})
    error = info.value
    for text in (str(error), repr(error), repr(records)):
        assert PW not in text and "user-PW-1" not in text
    assert len(str(error)) < 300
    assert len(records) == 1
    return error


def test_unknown_ca_is_refused_with_a_hint() -> None:
    with HostileServer(respond(200)) as server:
        stranger = HostileServer(respond(200), ca=trustme.CA())
        with stranger:
            server.ca_bundle, own = stranger.ca_bundle, server.ca_bundle
            error = call(server)
            server.ca_bundle = own
    assert isinstance(error, InsecureEndpointError)
    assert "--ca-bundle" in str(error) and "not trusted" in str(error)
    assert server.requests == []


def test_certificate_for_another_host_is_refused() -> None:
    with HostileServer(respond(200), cert_host="other.example.org") as server:
        error = call(server)
    assert isinstance(error, InsecureEndpointError)
    assert "127.0.0.1" in str(error) and server.requests == []


def test_redirect_to_http_is_refused() -> None:
    location = {"Location": "http://127.0.0.1:9/PAPI/NewUser.asp"}
    with HostileServer(respond(302, headers=location)) as server:
        error = call(server)
    assert isinstance(error, InsecureEndpointError) and "http://" in str(error)
    assert len(server.requests) == 1  # followed nowhere


def test_redirect_elsewhere_is_not_followed() -> None:
    location = {"Location": "https://www.glance.net/PAPI/NewUser.asp?token=abc"}
    with HostileServer(respond(301, headers=location)) as server:
        error = call(server)
    assert isinstance(error, PermanentApiError) and error.code == "REDIRECT"
    assert "www.glance.net" in str(error) and "token" not in str(error)
    assert len(server.requests) == 1


def test_a_redirect_to_an_unparsable_address_is_a_redirect_error_too() -> None:
    location = {"Location": "https://[::1/PAPI?token=abc"}
    with HostileServer(respond(303, headers=location)) as server:
        error = call(server)
    assert isinstance(error, PermanentApiError) and error.code == "REDIRECT"
    assert "https://[::1/PAPI" in str(error) and "token" not in str(error)


def test_xml_bomb_is_refused() -> None:
    with HostileServer(respond(200, BILLION_LAUGHS)) as server:
        error = call(server)
    assert isinstance(error, ResponseFormatError) and "DTD" in str(error)
    assert error.maybe_committed


@pytest.mark.parametrize("declare_length", [True, False])
def test_hundred_megabyte_body_stops_at_the_cap(declare_length: bool) -> None:
    total = 100 * 1024 * 1024
    with HostileServer(endless_body(total, declare_length=declare_length)) as server:
        error = call(server, max_body_bytes=1024 * 1024)
        sent = server.bytes_sent
    assert isinstance(error, ResponseFormatError) and "larger than 1048576 bytes" in str(error)
    assert error.maybe_committed
    assert sent < total // 4  # the client hung up long before the end


def test_wrong_content_type_with_garbage() -> None:
    garbage = bytes(range(256)) * 64
    with HostileServer(respond(200, garbage, content_type="image/png")) as server:
        error = call(server)
    assert isinstance(error, ResponseFormatError) and "not XML" in str(error)
    assert error.maybe_committed


def test_html_error_page_with_500() -> None:
    page = b"<html><body><h1>Internal Server Error<br></h1><p>PartnerPW=" + PW.encode()
    with HostileServer(respond(500, page, content_type="text/html")) as server:
        error = call(server)
    assert isinstance(error, TransientApiError) and not isinstance(error, ResponseFormatError)
    assert error.status == 500 and error.maybe_committed


def test_503_is_transient_with_retry_after() -> None:
    with HostileServer(respond(503, b"busy", headers={"Retry-After": "7"})) as server:
        error = call(server)
    assert isinstance(error, TransientApiError)
    assert error.status == 503 and error.retry_after == 7.0 and not error.maybe_committed


@pytest.mark.parametrize("header", ["3", "date"])
def test_429_carries_retry_after(header: str) -> None:
    if header == "date":
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    with HostileServer(respond(429, headers={"Retry-After": header})) as server:
        error = call(server)
    assert isinstance(error, TransientApiError) and error.status == 429
    assert not error.maybe_committed
    assert error.retry_after is not None and 2.0 <= error.retry_after <= 90.0


def test_retry_after_parsing() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Mon, 01 Jan 2024 00:01:00 GMT", now=now) == 60.0
    assert retry_after_seconds("Sun, 31 Dec 2023 00:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("99999999") == 99999999.0  # --max-wait decides, not a cap here


def test_400_without_an_error_document_is_transient_not_committed() -> None:
    with HostileServer(respond(404, b"<html>nope</html>", content_type="text/html")) as server:
        error = call(server)
    assert isinstance(error, TransientApiError) and error.status == 404
    assert not error.maybe_committed


def test_400_with_an_error_document_is_that_error() -> None:
    doc = b"<response><status>ERROR</status><code>MISSING</code><message>x</message></response>"
    with HostileServer(respond(400, doc)) as server:
        error = call(server)
    assert isinstance(error, PermanentApiError) and error.code == "MISSING"


@pytest.mark.parametrize("behaviour", [never_answer, silent_before_request])
def test_server_that_never_answers_times_out_as_maybe_committed(behaviour: Behaviour) -> None:
    with HostileServer(behaviour) as server:
        error = call(server)
    assert isinstance(error, TransientApiError) and error.maybe_committed
    assert "within" in str(error)


def test_tcp_server_that_never_starts_tls_is_not_committed() -> None:
    with HostileServer(silent_before_request, tls=False) as server:
        error = call(server)
    assert isinstance(error, TransientApiError) and not error.maybe_committed


@pytest.mark.slow
@pytest.mark.parametrize("headers_too", [True, False])
def test_one_byte_a_second_hits_the_total_deadline(headers_too: bool) -> None:
    complete = http_response(200, b"<response><status>OK</status></response>" + b" " * 100)
    head, _, body = complete.partition(b"\r\n\r\n")

    if headers_too:
        behaviour = drip(complete, interval=1.0)
    else:
        behaviour = drip(body, interval=1.0, prefix=head + b"\r\n\r\n")
    with HostileServer(behaviour) as server:
        error = call(server, timeout=(1.0, 2.0))
    assert isinstance(error, TransientApiError) and error.maybe_committed
    assert "no complete answer" in str(error) and "3 s" in str(error)


def test_connection_dropped_after_the_request_is_maybe_committed() -> None:
    with HostileServer(drop_after_request) as server:
        error = call(server)
    assert isinstance(error, TransientApiError) and error.maybe_committed
    assert len(server.requests) == 1


def test_connection_refused_is_not_committed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HostileServer(respond(200)) as server:
        server.base_url = f"https://127.0.0.1:{port}"
        error = call(server)
    assert isinstance(error, TransientApiError) and not error.maybe_committed
    assert "could not connect" in str(error)


def test_a_call_whose_deadline_passed_waiting_for_a_connection_was_not_sent() -> None:
    """Three threads, one pooled connection, answers after 1.2 s, a 2 s deadline: a call that
    never got the connection before its deadline sent nothing, so it is not in doubt (it was
    reported maybe-committed, and its row would have been looked up for nothing)."""
    answer = http_response(200, b"<response><status>OK</status></response>")

    def slow(conn: Conn) -> None:
        while conn.read_request() is not None:
            if conn.stopping.wait(1.2):
                return
            conn.send(answer.replace(b"Connection: close\r\n", b""))

    outcomes: dict[str, bool | None] = {}
    with HostileServer(slow) as server, GlanceClient(
        server.base_url, CREDS, ca_bundle=server.ca_bundle, timeout=(0.5, 1.5), pool_size=1,
    ) as client:  # fmt: skip

        def one(key: str) -> None:
            try:
                client.delete_user(key)
                outcomes[key] = None
            except TransientApiError as exc:
                outcomes[key] = exc.maybe_committed

        threads = [threading.Thread(target=one, args=(f"E{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    sent = {parse_qs(r.body.decode())["PartnerUserID"][0] for r in server.requests}
    assert len(outcomes) == 3 and len(sent) <= 2
    unsent = set(outcomes) - sent
    assert unsent and all(outcomes[key] is False for key in unsent)
