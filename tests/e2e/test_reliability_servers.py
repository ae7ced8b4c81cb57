"""Hostile and broken servers during a whole ``bulk-provision run`` (R5).

``test_client_hostile.py`` proves each server gives the client one clean, bounded error. Here the
same servers (``tests/hostile.py``) stand behind ``GLANCE_BASE_URL`` for a complete run, and what a
user sees must hold: a clean per-row failure (exit 1) or a clean resumable stop (exit 4), or exit 2
with one clear line when the endpoint is not secure; never a traceback or a hang. Nothing is lost:
the results workbook lists every roster row, and the checkpoint marks no row ``done``, since none
of these servers ever confirmed anything. A row whose request may have reached the server is left
``sending`` (a re-run verifies it with ShowUsers before sending again) or ``failed``, never
``pending`` (unless the answer, a 404, proves nothing was done).

A run's first call is a read-only ShowRoles: a server that cannot even answer that stops the run
before any write. To meet the rows themselves, the other servers answer ShowRoles properly and
turn hostile after it (``after_first_contact``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from bulk_provision.cli import main
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import RowState
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
from tests.workbooks import sheet_rows

USER_PW = "Hostile-roster-pw-1"
PARTNER_PW = "hostile-partner-PW"

ANSWER = http_response(200, b"<response><status>OK</status></response>" + b" " * 100)
HEAD, _, BODY = ANSWER.partition(b"\r\n\r\n")
HTML_PAGE = b"<html><body><h1>Internal Server Error</h1><p>Please try again</p></body></html>"
# --timeout of every run: a read waits at most TIMEOUT_S, a whole exchange 2 x TIMEOUT_S (the total
# deadline), so a try at a silent server costs TIMEOUT_S and one at a dripping server 2 x TIMEOUT_S.
TIMEOUT_S = 1.0
DRIP_S = 0.25


@dataclass(frozen=True)
class Hostile:
    behaviour: Behaviour
    insecure: bool = False  # refused outright: exit 2, one line naming the problem
    cert_host: str = "127.0.0.1"
    tls: bool = True
    says: str = ""
    may_commit: bool = True  # False: its answer proves the request was not carried out
    # False: it misbehaves before any request can be read, so even the run's first read-only
    # call (ShowRoles) fails and the run stops before sending anything
    first_contact_ok: bool = True


ROLES_ANSWER = http_response(
    200, b"<response><status>OK</status><roles><role><name>Agent</name><activeusers>1"
    b"</activeusers><inactiveusers>0</inactiveusers><users>1</users></role></roles></response>",
)


def after_first_contact(hostile: Behaviour) -> Behaviour:
    """Answer ShowRoles properly (the run's first contact), and be ``hostile`` to the rest, so
    the hostility meets the rows themselves."""

    def behaviour(conn: Conn) -> None:
        while b"\r\n\r\n" not in conn.buffer:  # peek at the request line, consume nothing
            data = conn.sock.recv(65536)
            if not data:
                return
            conn.buffer += data
        if b"/ShowRoles.asp" in conn.buffer.partition(b"\r\n")[0]:
            if conn.read_request() is not None:
                conn.send(ROLES_ANSWER)
            return
        hostile(conn)

    return behaviour


SERVERS = {
    "XML bomb": Hostile(respond(200, BILLION_LAUGHS)),
    "100 MB body with its length": Hostile(endless_body(100 * 2**20, declare_length=True)),
    "100 MB body without a length": Hostile(endless_body(100 * 2**20, declare_length=False)),
    "wrong content type": Hostile(respond(200, bytes(range(256)) * 64, content_type="image/png")),
    "HTML error page": Hostile(respond(500, HTML_PAGE, content_type="text/html")),
    "HTML 404 page": Hostile(respond(404, HTML_PAGE, content_type="text/html"), may_commit=False),
    "redirect to http://": Hostile(
        respond(302, headers={"Location": "http://127.0.0.1:9/PAPI/NewUser.asp"}),
        insecure=True, says="redirected to plain http://"),
    "certificate for another host": Hostile(
        respond(200), insecure=True, cert_host="other.example.org", says="not trusted",
        first_contact_ok=False),
    "accepts and never answers": Hostile(never_answer),
    "TLS done, request never read": Hostile(silent_before_request, first_contact_ok=False),
    "plain TCP that never starts TLS": Hostile(
        silent_before_request, tls=False, first_contact_ok=False),
    # A byte every DRIP_S, well inside each read's TIMEOUT_S, so only the total deadline ends it.
    "one byte at a time": Hostile(drip(ANSWER, interval=DRIP_S)),
    "headers, then one body byte at a time": Hostile(
        drip(BODY, interval=DRIP_S, prefix=HEAD + b"\r\n\r\n")),
    "drops the connection after the request": Hostile(drop_after_request),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for key in ("GLANCE_API_KEY", "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID",
                "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GLANCE_PARTNER_LOGIN", "admin.demo.glance.net")
    monkeypatch.setenv("GLANCE_PARTNER_PW", PARTNER_PW)
    yield tmp_path


def write_roster(path: Path, keys: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["PartnerUserID", "UserAddress", "UserPW", "UserFirst"])
        for key in keys:
            writer.writerow([key, f"u{key}.demo.glance.net", USER_PW, f"Name {key}"])
    return path


def write_tuning(path: Path) -> Path:
    path.write_text("backoff_base = 0.01\nbackoff_max = 0.05\npause_seconds = 0.05\n"
                    "max_consecutive_failures = 4\n", encoding="utf-8")
    return path


def run_against(server: HostileServer, workdir: Path, monkeypatch: pytest.MonkeyPatch,
                keys: list[str]) -> int:
    monkeypatch.setenv("GLANCE_BASE_URL", server.base_url)
    monkeypatch.setenv("GLANCE_CA_BUNDLE", str(server.ca_bundle))
    roster = write_roster(workdir / "staff.csv", keys)
    return main(["run", str(roster), "--rate", "0", "--timeout", f"{TIMEOUT_S:g}",
                 "--max-retries", "1",
                 "--config", str(write_tuning(workdir / "tuning.toml")), "--no-progress"])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", [1, 6])
@pytest.mark.parametrize("name", list(SERVERS))
def test_run_against_a_hostile_server(
    name: str, size: int, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One row: it runs out of retries without a definite answer, so it is left ``unfinished``
    (exit 4). Six rows: twelve failures in a row, more than twice ``max_consecutive_failures``,
    so the run pauses, then stops resumably (exit 4). A server that fails even the first
    read-only call stops the run before any write (exit 4).
    """
    hostile = SERVERS[name]
    keys = [f"{i:05d}" for i in range(size)]
    behaviour = hostile.behaviour
    if hostile.first_contact_ok and hostile.tls:
        behaviour = after_first_contact(behaviour)
    with HostileServer(behaviour, cert_host=hostile.cert_host, tls=hostile.tls) as server:
        code = run_against(server, workdir, monkeypatch, keys)
        received = list(server.requests)
    out, err = capsys.readouterr()
    if hostile.insecure:
        expected = 2
    elif not hostile.first_contact_ok:
        expected = 4
    else:
        expected = 4
    assert code == expected, out + err
    assert "Traceback" not in out + err
    for secret in (PARTNER_PW, USER_PW):
        assert secret not in out + err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("bulk-provision: error: "), err
        assert hostile.says in lines[0]
    else:
        assert f"results: {workdir / 'staff.results.xlsx'}" in out
        if hostile.first_contact_ok and size > 1:
            assert "in a row failed; stopping" in err
        if hostile.first_contact_ok and size == 1:
            assert "1 row was left unfinished (no definite answer from Glance)" in err
        if code == 4:
            assert "re-run the same command to resume" in err
        if not hostile.first_contact_ok:
            assert "first contact with Glance (ShowRoles) kept failing" in err
            assert not [r for r in received if not r.path.endswith("/ShowRoles.asp")]

    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert [r["PartnerUserID"] for r in rows] == keys  # every row, in roster order
    for row in rows:  # never "failed": Glance refused nothing, a re-run still sends them
        assert row["Outcome"] in {"unfinished", "not attempted"}, row
        assert row["UserPW"] == "***"
        if row["Outcome"] == "unfinished":
            assert row["Message"], row
    if size == 1 and hostile.first_contact_ok:
        assert [r["Outcome"] for r in rows] == ["unfinished"]

    sent = {r.body.decode().partition("PartnerUserID=")[2].partition("&")[0]
            for r in received if r.path.endswith("/NewUser.asp")}
    with Checkpoint.read_only(workdir / "staff.csv.checkpoint.sqlite") as journal:
        states = journal.state_counts()
        pending = {a.key for a in journal.in_state(RowState.PENDING)}
        in_doubt = {a.key for a in journal.in_state(RowState.IN_DOUBT)}
    assert states[RowState.DONE] == states[RowState.FAILED] == 0  # nothing confirmed or refused
    assert sum(states.values()) == size
    if hostile.may_commit:  # a request that may have been carried out is verified, not resent
        assert not sent & pending
    if size == 1 and in_doubt:
        assert str(rows[0]["Message"]).startswith("outcome unknown"), rows[0]
        assert int(str(rows[0]["Attempts"])) >= 1, rows[0]  # the tries that were made


def test_a_certificate_from_an_unknown_ca_is_refused_before_any_request(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    with HostileServer(respond(200)) as server:
        stranger = trustme.CA()
        server.ca_bundle = workdir / "other-ca.pem"
        stranger.cert_pem.write_to_path(str(server.ca_bundle))
        code = run_against(server, workdir, monkeypatch, ["00001"])
        received = list(server.requests)
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulk-provision: error: "), err
    assert "--ca-bundle" in lines[0]
    assert received == []
