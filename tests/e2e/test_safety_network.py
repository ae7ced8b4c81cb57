"""Safety limits on what the network may make a run do (DESIGN.md section 11, issue 9).

A fake Glance (``tests/hostile.py``: real TLS on loopback) that is hostile in *what it says*:
listing users twice, paging forever, asking for a day's wait, echoing passwords in other
spellings, answering with an HTML page. Each must end in a clear, bounded, resumable stop or a
clean per-row failure, never in extra writes, a hang, or a leaked secret.
"""

from __future__ import annotations

import csv
import hashlib
import html
import re
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import ResponseFormatError, RunStopped
from bulk_provision.glance import Credentials, GlanceClient, wire
from bulk_provision.glance.wire import clean_text
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import RowState
from tests.conftest import point_at
from tests.hostile import (
    ROLES_OK,
    HostileServer,
    http_response,
    papi,
    user_xml,
    users_page,
    xml_error,
    xml_ok,
)
from tests.workbooks import sheet_rows

PARTNER_PW = "hostile-partner-PW"
WRITES = ("NewUser", "UpdateUser", "DeleteUser")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for key in ("GLANCE_API_KEY", "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID",
                "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GLANCE_PARTNER_LOGIN", "admin.demo.glance.net")
    monkeypatch.setenv("GLANCE_PARTNER_PW", PARTNER_PW)
    (tmp_path / "tuning.toml").write_text(
        "backoff_base = 0.01\nbackoff_max = 0.05\npause_seconds = 0.05\n", encoding="utf-8")
    yield tmp_path


@pytest.fixture
def glance(
    workdir: Path, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., HostileServer]]:
    """``glance(answer)`` starts a fake Glance answering with ``answer(operation, fields)`` and
    points the environment at it; stopped at teardown."""
    servers: list[HostileServer] = []

    def start(answer: Callable[[str, dict[str, str]], bytes]) -> HostileServer:
        server = HostileServer(papi(answer)).__enter__()
        servers.append(server)
        monkeypatch.setenv("GLANCE_BASE_URL", server.base_url)
        monkeypatch.setenv("GLANCE_CA_BUNDLE", str(server.ca_bundle))
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def write_roster(path: Path, keys: list[str], *, pw: str = "Roster-pw-123") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["PartnerUserID", "UserAddress", "UserPW", "UserFirst", "UserLast"])
        for key in keys:
            writer.writerow([key, f"u{key}.demo.glance.net", pw, "Ann", "Lee"])
    return path


def operations(server: HostileServer) -> list[str]:
    with server.lock:
        return [r.path.rsplit("/", 1)[-1].removesuffix(".asp") for r in server.requests]


def writes(server: HostileServer) -> list[str]:
    return [op for op in operations(server) if op in WRITES]


def run(workdir: Path, roster: Path, *args: str) -> int:
    return main(["run", str(roster), "--rate", "0", "--no-progress",
                 "--config", str(workdir / "tuning.toml"), *args])


def lister(users: list[str], **answers: bytes) -> Callable[[str, dict[str, str]], bytes]:
    """A Glance whose ShowUsers lists ``users`` on one page; writes answer OK."""

    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation in answers:
            return answers[operation]
        if operation == "ShowUsers":
            return users_page(users)
        return xml_ok(ROLES_OK if operation == "ShowRoles" else "")

    return answer


def twenty_active() -> list[str]:
    return [user_xml(f"{i:03d}", f"u{i:03d}.demo.glance.net") for i in range(20)]


# --- item 1: the sync guard counts distinct users sync could suspend -----------------------------


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_listing_with_each_user_ten_times_stops_sync_before_any_write(
    command: str, workdir: Path, glance: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = glance(lister(twenty_active() * 10))
    roster = write_roster(workdir / "staff.csv", ["000", "001"])
    if command == "run":
        code = run(workdir, roster, "--mode", "sync")
    else:
        code = main(["plan", str(roster), "--mode", "sync"])
    out, err = capsys.readouterr()
    assert code == 4, out + err
    assert writes(server) == []
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "ShowUsers listed PartnerUserID '000' 10 times (and 19 other IDs)" in lines[0]
    assert "nothing was changed" in lines[0]
    assert "Traceback" not in out + err


def test_users_without_an_id_and_protected_accounts_do_not_inflate_the_sync_guard(
    workdir: Path, glance: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str],
) -> None:
    """20 active users, 100 made in the UI (no PartnerUserID) and 100 protected admins: a 2-row
    roster would suspend 18 of the 20 users sync may touch: refused (10% of 20 is 2)."""
    users = twenty_active()
    users += [user_xml("", f"ui{i}.demo.glance.net") for i in range(100)]
    users += [user_xml(f"adm{i}", f"admin{i}.demo.glance.net") for i in range(100)]
    server = glance(lister(users))
    roster = write_roster(workdir / "staff.csv", ["000", "001"])
    assert main(["plan", str(roster), "--mode", "sync", "--protect", "admin*"]) == 2
    err = capsys.readouterr().err
    assert "sync would suspend 18 of 20 active users" in err and "allows (2)" in err
    assert run(workdir, roster, "--mode", "sync", "--protect", "admin*") == 2
    assert writes(server) == []
    # the same listing with a complete roster is fine: no suspension at all
    roster = write_roster(workdir / "staff.csv", [f"{i:03d}" for i in range(20)])
    assert run(workdir, roster, "--mode", "sync", "--protect", "admin*", "--fresh") == 0
    assert writes(server) == []


# --- item 4: ShowUsers paging is bounded --------------------------------------------------------


def endless_pages(page_size: int) -> Callable[[str, dict[str, str]], bytes]:
    """Every ShowUsers page is full, of new users, with a new cursor: it never ends."""

    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation != "ShowUsers":
            return xml_ok(ROLES_OK if operation == "ShowRoles" else "")
        start = int(fields.get("PageStart", "0"))
        users = [user_xml(f"x{n}", f"x{n}.demo.glance.net")
                 for n in range(start, start + page_size)]
        return users_page(users, str(start + page_size))

    return answer


def test_the_client_stops_a_listing_that_pages_forever(
    glance: Callable[..., HostileServer],
) -> None:
    server = glance(endless_pages(10))
    creds = Credentials("admin.demo.glance.net", partner_pw=PARTNER_PW)
    with GlanceClient(server.base_url, creds, ca_bundle=server.ca_bundle) as client:
        with pytest.raises(RunStopped, match="ShowUsers kept paging past 50 users"):
            list(client.show_users(page_count=10, max_users=50))
        pages_for_users = len(operations(server))
        with pytest.raises(RunStopped, match="in 4 pages"):
            list(client.show_users(page_count=10, max_pages=4))
    assert pages_for_users == 6  # the page past the bound is read, never yielded
    assert len(operations(server)) == pages_for_users + 4


@pytest.mark.timeout(30)
def test_an_endless_snapshot_stops_upsert_resumably_and_is_not_retried(
    workdir: Path, glance: Callable[..., HostileServer], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("bulk_provision.glance.paging.MAX_LISTED_USERS", 3000)
    server = glance(endless_pages(1000))
    roster = write_roster(workdir / "staff.csv", ["000", "001"])
    assert run(workdir, roster, "--mode", "upsert") == 4
    out, err = capsys.readouterr()
    assert "ShowUsers kept paging past 3,000 users" in err
    assert "a Glance group could hold" in err
    assert "kept failing" not in err  # a definite stop: not retried as a transient failure
    assert operations(server).count("ShowUsers") == 4
    assert writes(server) == []
    assert {r["Outcome"] for r in sheet_rows(workdir / "staff.results.xlsx")} == {"not attempted"}
    assert main(["plan", str(roster), "--mode", "upsert"]) == 4
    assert "ShowUsers kept paging past 3,000 users" in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_an_endless_verification_look_up_leaves_the_row_in_doubt(
    workdir: Path, glance: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str],
) -> None:
    """NewUser gets no answer (in doubt); the look-up by its exact address then pages forever:
    the run stops (exit 4) with the row still in doubt, and NewUser is never sent again."""
    endless = endless_pages(10)

    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation == "NewUser":
            return http_response(502, b"")  # may have been carried out
        return endless(operation, fields)

    server = glance(answer)
    roster = write_roster(workdir / "staff.csv", ["000"])
    assert run(workdir, roster) == 4
    err = capsys.readouterr().err
    assert "ShowUsers listed more than 20 users for the one address u000.demo.glance.net" in err
    assert writes(server) == ["NewUser"]
    assert operations(server).count("ShowUsers") == 3
    with Checkpoint.read_only(workdir / "staff.csv.checkpoint.sqlite") as journal:
        assert [a.key for a in journal.in_state(RowState.IN_DOUBT)] == ["000"]
    row = sheet_rows(workdir / "staff.results.xlsx")[0]
    assert str(row["Message"]).startswith("outcome unknown")



def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- item 5: Retry-After beyond --max-wait stops the run ----------------------------------------

LONG_WAIT = http_response(429, b"", headers={"Retry-After": "999999"})
SAYS = "Glance asked to wait 999999 s (Retry-After), more than --max-wait 300 s"


@pytest.mark.timeout(30)
def test_a_day_long_retry_after_stops_the_run_resumably_with_rows_pending(
    workdir: Path, glance: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str],
) -> None:
    server = glance(lister([], NewUser=LONG_WAIT))
    roster = write_roster(workdir / "staff.csv", ["000", "001", "002"])
    assert run(workdir, roster, "--workers", "1") == 4
    out, err = capsys.readouterr()
    assert SAYS in err and "re-run" in err
    assert f"results: {workdir / 'staff.results.xlsx'}" in out
    assert writes(server) == ["NewUser"]  # stopped at the first such answer
    with Checkpoint.read_only(workdir / "staff.csv.checkpoint.sqlite") as journal:
        assert journal.state_counts()[RowState.PENDING] == 3
    rows = {r["PartnerUserID"]: r for r in sheet_rows(workdir / "staff.results.xlsx")}
    assert rows["000"]["Outcome"] == "unfinished" and SAYS in str(rows["000"]["Message"])
    assert {rows[k]["Outcome"] for k in ("001", "002")} == {"not attempted"}


@pytest.mark.timeout(30)
def test_a_long_retry_after_for_a_row_in_doubt_leaves_it_to_be_verified(
    workdir: Path, glance: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str],
) -> None:
    """A 502 (may have been carried out), a look-up that does not find the user, a second
    NewUser answered with a day-long 429 (surely not carried out): the row is pending again but
    stays marked doubted, so a DUPLICATE_ID on the next run is checked as possibly ours."""
    answers = iter([http_response(502, b""), LONG_WAIT])
    reads = lister([])
    server = glance(lambda op, fields: next(answers) if op == "NewUser" else reads(op, fields))
    roster = write_roster(workdir / "staff.csv", ["000"])
    assert run(workdir, roster) == 4
    assert SAYS in capsys.readouterr().err
    assert writes(server) == ["NewUser", "NewUser"]
    with Checkpoint.open(workdir / "staff.csv.checkpoint.sqlite", roster_sha256=sha256(roster),
                         roster_path=str(roster), mode="create") as journal:
        assert [(t.action.key, t.state, t.doubted) for t in journal.todo()] == [
            ("000", RowState.PENDING, True)]
    row = sheet_rows(workdir / "staff.results.xlsx")[0]
    assert row["Outcome"] == "unfinished" and str(row["Message"]).startswith(SAYS)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_long_retry_after_on_a_read_stops_before_any_write(
    command: str, workdir: Path, glance: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """First contact (ShowRoles) in create mode, the ShowUsers snapshot in upsert mode; the
    limit comes from the config file here, and from --max-wait on the command line."""
    (workdir / "tuning.toml").write_text("max_wait = 60\nbackoff_base = 0.01\n", encoding="utf-8")
    server = glance(lister([], ShowRoles=LONG_WAIT, ShowUsers=LONG_WAIT))
    roster = write_roster(workdir / "staff.csv", ["000"])
    config = ["--config", str(workdir / "tuning.toml")]
    if command == "run":
        assert run(workdir, roster) == 4
        assert "(ShowRoles): Glance asked to wait 999999 s (Retry-After), more than " \
               "--max-wait 60 s" in capsys.readouterr().err
    assert main([command, str(roster), "--mode", "upsert", *config, "--max-wait", "7",
                 *(["--no-progress", "--fresh"] if command == "run" else [])]) == 4
    err = capsys.readouterr().err
    assert "ShowUsers (snapshot): Glance asked to wait 999999 s (Retry-After), more than " \
           "--max-wait 7 s; stopped rather than wait" in err
    assert writes(server) == []


def test_a_retry_after_is_named_as_the_server_wrote_it() -> None:
    from bulk_provision.provision.retry import wait_refusal
    from bulk_provision.settings.engine import EngineOptions

    assert wait_refusal(EngineOptions(max_wait=0), 99999999.0) == (
        "Glance asked to wait 99999999 s (Retry-After), more than --max-wait 0 s; "
        "stopped rather than wait")
    assert wait_refusal(EngineOptions(max_wait=0), 0.5) is not None
    assert wait_refusal(EngineOptions(max_wait=300), 300.0) is None


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e9"])
def test_a_bad_max_wait_is_one_line(
    value: str, workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write_roster(workdir / "staff.csv", ["000"])
    assert run(workdir, roster, "--max-wait", value) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bulk-provision: error: --max-wait must be 0 to 604800 seconds"]


# --- item 13 (part): --max-suspend ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf%", "nan%", "-5", "1e309", "10 %", "%", "", "150%",
                                   "5.5", "0x10"])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_bad_max_suspend_is_one_line_before_anything_else(
    command: str, value: str, workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write_roster(workdir / "staff.csv", ["000"])
    code = main([command, str(roster), "--mode", "sync", "--max-suspend", value])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulk-provision: error: --max-suspend must"), err


# --- item 9: secrets echoed in other spellings ----------------------------------------------------

SECRET = "Tr0ub&dor<3 pass/wo%20rd"
SPELLINGS = {
    "html-escaped": html.escape(SECRET),
    "escaped twice": html.escape(html.escape(SECRET)),
    "quote": quote(SECRET),
    "quote, no safe": quote(SECRET, safe=""),
    "quote_plus": quote_plus(SECRET),
    "lowercase hex": re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(SECRET, safe="")),
    "decimal refs": "".join(f"&#{ord(c)};" for c in SECRET),
    "hex refs": "".join(f"&#x{ord(c):X};" for c in SECRET),
    "whitespace collapsed": SECRET.replace(" ", "\n\t  "),
    "decoded once more": SECRET.replace("%20", " "),
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_clean_text_masks_each_spelling_before_normalising(name: str) -> None:
    text = f"INVALID: UserPW {SPELLINGS[name]} is too weak\x1b[2J"
    assert clean_text(text, [SECRET]) == "INVALID: UserPW *** is too weak [2J"


def test_the_excerpt_of_a_bad_answer_masks_lowercase_hex_too() -> None:
    body = b"<html>pw=" + SPELLINGS["lowercase hex"].encode() + b"</html>"
    with pytest.raises(ResponseFormatError) as info:
        wire.parse_response(body, operation="NewUser", secrets=[SECRET])
    assert "Tr0ub" not in str(info.value) and "tr0ub" not in str(info.value)
    assert clean_text("pw=TR0UB%26DOR%3C3", ["Tr0ub&dor<3"]) == "***"  # case changed: whole word
    assert clean_text("pw=Tr0ub%26dor%3c3", ["Tr0ub&dor<3"]) == "pw=***"
    # no escape in the text: the quick path, still every plain form (a%20b decoded is a b)
    assert clean_text("pw=Roster-pw-1, 5551234", ["Roster-pw-1"]) == "pw=***, 5551234"
    assert clean_text("pw=a  b.", ["a%20b"]) == "pw=***."


def echo_password(keys: list[str]) -> Callable[[str, dict[str, str]], bytes]:
    """NewUser fails with an INVALID whose message echoes the password: row i in spelling i
    (XML-escaped once more for the document, so the message carries the spelling itself)."""
    spelling = dict(zip(keys, SPELLINGS.values(), strict=True))

    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation == "NewUser":
            assert fields["UserPW"] == SECRET  # it did travel
            echoed = html.escape(spelling[fields["PartnerUserID"]])
            return xml_error("INVALID", f"UserPW {echoed} is too weak")
        return xml_ok(ROLES_OK)

    return answer


def test_a_password_echoed_in_any_spelling_reaches_no_output(
    workdir: Path, glance: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str],
) -> None:
    keys = [f"{i:03d}" for i in range(len(SPELLINGS))]
    glance(echo_password(keys))
    roster = write_roster(workdir / "staff.csv", keys, pw=SECRET)
    log = workdir / "calls.jsonl"
    assert run(workdir, roster, "--log-file", str(log)) == 1
    assert main(["status", str(workdir / "staff.csv.checkpoint.sqlite")]) in (0, 1)
    out, err = capsys.readouterr()
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert [r["Outcome"] for r in rows] == ["failed"] * len(keys)
    assert all(r["Message"] == "INVALID: UserPW *** is too weak" for r in rows), rows
    texts = {"stdout": out.encode(), "stderr": err.encode(), "log": log.read_bytes()}
    with zipfile.ZipFile(workdir / "staff.results.xlsx") as book:
        texts.update({name: book.read(name) for name in book.namelist()})
    for path in workdir.glob("staff.csv.checkpoint.sqlite*"):
        texts[path.name] = path.read_bytes()
    with sqlite3.connect(workdir / "staff.csv.checkpoint.sqlite") as db:
        texts["journal messages"] = "\n".join(
            m for (m,) in db.execute("SELECT message FROM rows")).encode()
    needles = {SECRET, *SPELLINGS.values(), "Tr0ub", "wo%20rd", "wo rd"}
    for where, blob in texts.items():
        for needle in needles:
            assert needle.encode() not in blob, f"{needle!r} found in {where}"


@pytest.mark.parametrize("location", [
    f"https://127.0.0.1:9/{quote(SECRET)}/PAPI/NewUser.asp",
    f"http://{quote(SECRET, safe='')}@127.0.0.1:9/PAPI/NewUser.asp",
])
def test_a_redirect_that_echoes_the_password_does_not_leak_it(
    location: str, workdir: Path, glance: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    redirect = http_response(302, b"", headers={"Location": location})
    glance(lister([], NewUser=redirect))
    roster = write_roster(workdir / "staff.csv", ["000"], pw=SECRET)
    assert run(workdir, roster) == 2
    out, err = capsys.readouterr()
    assert "redirect" in err and "***" in err
    for needle in (SECRET, quote(SECRET), quote(SECRET, safe=""), "Tr0ub"):
        assert needle not in out + err


# --- "also seen": an HTML page is never a success ------------------------------------------------

HTML_OK = b"<html><body><h1>Welcome</h1><p><status>OK</status></p></body></html>"


@pytest.mark.parametrize(("body", "content_type"), [
    (HTML_OK, "text/html"),
    (HTML_OK, "text/xml"),
    (b"<div><p><status>OK</status></p></div>", "text/html; charset=utf-8"),
    (b"<response><status>OK</status></response>", "application/json"),  # not HTML, but...
])
def test_a_page_that_contains_status_ok_is_not_a_success(
    body: bytes, content_type: str, glance: Callable[..., HostileServer],
) -> None:
    server = glance(lambda op, fields: http_response(200, body, content_type=content_type))
    creds = Credentials("admin.demo.glance.net", partner_pw=PARTNER_PW)
    with GlanceClient(server.base_url, creds, ca_bundle=server.ca_bundle) as client:
        if content_type == "application/json":  # ...a PAPI document: accepted
            client.new_user({"PartnerUserID": "E1", "UserAddress": "e1.x"})
            return
        with pytest.raises(ResponseFormatError) as info:
            client.new_user({"PartnerUserID": "E1", "UserAddress": "e1.x"})
    assert info.value.maybe_committed  # the request may have been carried out


@pytest.mark.parametrize(("body", "content_type"), [
    (b"<Result><Status>ok</Status><dialIn>1</dialIn></Result>", "text/xml"),
    (b"<response><status>OK</status></response>", "text/html"),  # classic ASP's default type
    (b"<r xmlns='urn:x'><status>OK</status></r>", "application/vnd.glance+xml"),
    (b"<response><status>OK</status></response>", ""),
])
def test_real_glance_is_still_read_tolerantly(
    body: bytes, content_type: str, glance: Callable[..., HostileServer],
) -> None:
    server = glance(lambda op, fields: http_response(200, body, content_type=content_type))
    creds = Credentials("admin.demo.glance.net", partner_pw=PARTNER_PW)
    with GlanceClient(server.base_url, creds, ca_bundle=server.ca_bundle) as client:
        client.new_user({"PartnerUserID": "E1", "UserAddress": "e1.x"})


def test_an_html_page_with_status_ok_is_never_counted_as_created(
    workdir: Path, glance: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str],
) -> None:
    page = http_response(200, HTML_OK, content_type="text/html")
    server = glance(lister([], NewUser=page))
    roster = write_roster(workdir / "staff.csv", ["000"])
    assert run(workdir, roster, "--max-retries", "0") == 4  # no definite answer: resumable
    row = sheet_rows(workdir / "staff.results.xlsx")[0]
    assert row["Outcome"] == "unfinished" and "HTML page" in str(row["Message"])
    with Checkpoint.read_only(workdir / "staff.csv.checkpoint.sqlite") as journal:
        # verified before any resend
        assert [a.key for a in journal.in_state(RowState.IN_DOUBT)] == ["000"]
    assert writes(server) == ["NewUser"]


# --- item 8: the journal's disk fills mid-run ----------------------------------------------------


def disk_full_error() -> sqlite3.OperationalError:
    """SQLite's own 'database or disk is full': a database allowed two pages, asked for more."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE t (x BLOB)")
        db.execute("PRAGMA max_page_count = 2")
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("SQLite did not report a full database")


class FillingDisk:
    """The journal's connection, with a disk that fills up after ``room`` finished rows: from
    then on every write fails as SQLite fails on a full disk (reads still work)."""

    def __init__(self, conn: sqlite3.Connection, room: int) -> None:
        self._conn = conn
        self.room = room

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        words = sql.split()
        if words[0] == "UPDATE" and "outcome=?," in sql:  # a finished row (answer)
            self.room -= 1
        if self.room < 0 and words[0] in ("UPDATE", "INSERT"):
            raise disk_full_error()
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: object) -> sqlite3.Cursor:
        if self.room < 0 or (self.room == 0 and sql.startswith("INSERT INTO rows")):
            raise disk_full_error()
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def test_a_full_disk_under_the_journal_stops_resumably_with_a_workbook_of_what_is_known(
    simulator: object, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bulk_provision.journal import checkpoint
    from bulk_provision.simulator import Simulator

    assert isinstance(simulator, Simulator)
    point_at(monkeypatch, simulator)
    keys = [f"{i:03d}" for i in range(12)]
    roster = workdir / "staff.csv"
    with roster.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["PartnerUserID", "UserAddress", "UserPW", "AudioProvider"])
        writer.writerows([k, f"u{k}.demo.glance.net", "Roster-pw-123", "666"] for k in keys)
    real_connect = checkpoint.connect
    disks: list[FillingDisk] = []

    def connect(uri: str, path: Path) -> sqlite3.Connection:
        disks.append(FillingDisk(real_connect(uri, path), room=5))
        return disks[-1]  # type: ignore[return-value]

    monkeypatch.setattr(checkpoint, "connect", connect)
    assert run(workdir, roster, "--workers", "1") == 4
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "could not be written: the disk is full (database or disk is full)" in err
    assert "re-run" in err and "resume" in err
    assert f"results: {workdir / 'staff.results.xlsx'}" in out
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert [r["PartnerUserID"] for r in rows] == keys
    # the sixth user was created, but the journal could not say so: the workbook still does,
    # with the audio codes Glance returned (held in memory). The answers are group-committed,
    # so the failure is found within one commit window: a few more rows may have been sent
    # meanwhile, each shown as Glance answered it (and in doubt in the journal).
    created = [r for r in rows if r["Outcome"] == "created"]
    sent = len(created)
    assert sent >= 6 and [r["PartnerUserID"] for r in created] == keys[:sent]
    sixth = simulator.users()["005"].audio
    assert sixth is not None and created[5]["hostCode"] == sixth["hostCode"]
    assert {r["Outcome"] for r in rows[sent:]} <= {"not attempted"}

    monkeypatch.setattr(checkpoint, "connect", real_connect)  # space freed: resume
    assert run(workdir, roster) == 0
    assert simulator.created_counts() == dict.fromkeys(keys, 1)
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert {r["Outcome"] for r in rows} == {"created"}
    assert "confirmed with ShowUsers" in str(rows[5]["Message"])


def test_a_disk_too_full_for_the_plan_stops_before_any_write_with_a_workbook(
    workdir: Path, glance: Callable[..., HostileServer], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bulk_provision.journal import checkpoint

    real_connect = checkpoint.connect
    monkeypatch.setattr(checkpoint, "connect",
                        lambda uri, path: FillingDisk(real_connect(uri, path), room=0))
    server = glance(lister([]))
    roster = write_roster(workdir / "staff.csv", ["000", "001"])
    assert run(workdir, roster) == 4
    out, err = capsys.readouterr()
    assert "could not be written: the disk is full (database or disk is full)" in err
    assert "Traceback" not in out + err
    assert writes(server) == []
    assert [r["Outcome"] for r in sheet_rows(workdir / "staff.results.xlsx")] == [
        "not attempted", "not attempted"]


def test_results_that_cannot_be_written_where_asked_go_to_the_temporary_folder(
    simulator: object, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import tempfile

    from bulk_provision.jobs import run as job
    from bulk_provision.simulator import Simulator

    assert isinstance(simulator, Simulator)
    point_at(monkeypatch, simulator)
    spare = workdir / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    real_write = job.write_results
    wanted = workdir / "staff.results.xlsx"

    def full_disk(path: Path, *args: object, **kwargs: object) -> None:
        if path == wanted:
            raise OSError(28, "No space left on device")
        real_write(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(job, "write_results", full_disk)
    roster = write_roster(workdir / "staff.csv", ["000", "001"])
    assert run(workdir, roster) == 4  # not where asked: never "all went well" (exit 0)
    out, err = capsys.readouterr()
    [elsewhere] = spare.glob("staff.results.*.xlsx")
    assert f"results: {elsewhere}" in out
    assert f"could not be written to {wanted}; they are in {elsewhere}" in err
    assert (f"bulk-provision: the results could not be written to {wanted} (No space left on "
            f"device); they are in {elsewhere}; a re-run sends nothing again and writes them "
            "where asked; stopped early") in err
    assert [r["Outcome"] for r in sheet_rows(elsewhere)] == ["created", "created"]
    assert not wanted.exists()
    summary = [list(row.values()) for row in sheet_rows(elsewhere, "Summary")]
    assert ["Exit code", 4] in summary
    assert main(["status", str(workdir / "staff.csv.checkpoint.sqlite")]) == 0
    assert "Last exit code: 4" in capsys.readouterr().out
    monkeypatch.setattr(job, "write_results", real_write)  # the disk has room again
    assert run(workdir, roster) == 0
    assert [r["Outcome"] for r in sheet_rows(wanted)] == ["created", "created"]
